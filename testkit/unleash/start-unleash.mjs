// Runs unleash-server in a process of its own, so a test can stop it (SIGKILL) like an outage.
// argv: <port> <pg host> <pg port> <pg user> <database> <admin token>
import { start } from 'unleash-server';

const [port, host, pgPort, user, database, token] = process.argv.slice(2);
const unleash = await start({
  db: {
    host,
    port: Number(pgPort),
    user,
    password: '',
    database,
    ssl: false,
    pool: { min: 0, max: 4 },
  },
  server: { port: Number(port), host: '127.0.0.1', enableRequestLogger: false },
  authentication: {
    type: 'open-source',
    enableApiToken: true,
    createAdminUser: false,
    initApiTokens: [
      { secret: token, tokenName: 'greenlight', type: 'admin', environment: '*', projects: ['*'] },
    ],
  },
  versionCheck: { enable: false },
  telemetry: false,
  logLevel: 'warn',
});
process.stdout.write(`ready ${unleash.config.server.port}\n`);
for (const signal of ['SIGTERM', 'SIGINT'])
  process.on(signal, () =>
    unleash.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    ),
  );
