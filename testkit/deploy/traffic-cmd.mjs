// A stand-in proxy CLI for the command traffic driver: keeps weights in a JSON file.
//   traffic-cmd.mjs <state file> set <slot> <weight>   -> slot gets weight, the other 100 - weight
//   traffic-cmd.mjs <state file> status                -> prints "blue=<w> green=<w>"
import { readFileSync, writeFileSync } from 'node:fs';

const [file, verb, slot, weight] = process.argv.slice(2);
const read = () => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { blue: 100, green: 0 };
  }
};
if (verb === 'status') {
  const w = read();
  console.log(`blue=${w.blue} green=${w.green}`);
} else if (verb === 'set' && (slot === 'blue' || slot === 'green') && /^\d+$/.test(weight ?? '')) {
  const other = slot === 'blue' ? 'green' : 'blue';
  writeFileSync(file, JSON.stringify({ [slot]: Number(weight), [other]: 100 - Number(weight) }));
  console.log(`set ${slot}=${weight}`);
} else {
  console.error(
    `usage: traffic-cmd.mjs <file> set <blue|green> <weight> | status (got ${process.argv.slice(3).join(' ')})`,
  );
  process.exit(2);
}
