// An option that takes one value, given twice, is a usage error: commander would keep the last
// one silently (`-p 1 -p 2` traced only pid 2). Read from the command's own option table, so no
// list of options is repeated here; options that add up (`addsUp`) may repeat.
import type { Command, Option } from 'commander';
import { UsageError } from './option-values';

const takesValue = (o: Option) => o.required || o.optional;

/** Throws a UsageError naming the first single-value option that `argv` gives twice. */
export function rejectRepeats(command: Command, argv: string[], addsUp: (o: Option) => boolean): void {
  const seen = new Map<Option, string>();
  const note = (o: Option | undefined, given: string) => {
    if (!o || !takesValue(o) || addsUp(o)) return;
    const first = seen.get(o);
    if (first !== undefined) throw new UsageError(`${o.flags.split(/[ ,]/)[0]}${o.long && o.short ? `/${o.long}` : ''} given twice (${first} and ${given}): give it once`);
    seen.set(o, given);
  };
  const byLong = (name: string) => command.options.find((o) => o.long === name);
  const byShort = (name: string) => command.options.find((o) => o.short === name);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const o = byLong(eq < 0 ? a : a.slice(0, eq));
      if (o && takesValue(o) && eq < 0 && (o.required || (argv[i + 1] !== undefined && !argv[i + 1].startsWith('-')))) {
        note(o, `${a} ${argv[++i] ?? ''}`.trim());
      } else {
        note(o, a);
      }
    } else if (a.startsWith('-') && a.length > 1) {
      // -p5, -p 5, and boolean flags run together (-Tq)
      for (let k = 1; k < a.length; k++) {
        const o = byShort(`-${a[k]}`);
        if (!o || !takesValue(o)) continue;
        const value = k + 1 < a.length ? a.slice(k + 1) : o.required || (argv[i + 1] !== undefined && !argv[i + 1].startsWith('-')) ? argv[++i] : '';
        note(o, `-${a[k]} ${value ?? ''}`.trim());
        break;
      }
    }
  }
}
