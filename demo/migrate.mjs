// The demo's database migration: a step Greenlight runs before traffic moves, with no database
// behind it. It says what it would apply and takes a moment, as a real one would.
const version = process.env.GREENLIGHT_VERSION ?? 'the new version';
console.log(`applying migrations for api ${version}: 0042_add_export_index … done`);
await new Promise((resolve) => setTimeout(resolve, 1500));
