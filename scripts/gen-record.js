#!/usr/bin/env node
// Writes the TypeScript side of the record from its one definition, bpf/tcptrace.h:
//   src/decode/record.generated.ts        sizes, byte offsets, array lengths (read from the BTF
//                                          of the compiled object, bpf/tcptrace.bpf.o: the layout
//                                          the BPF program really writes) and the enums' values
//                                          (read from the header: the compiler keeps no BTF for
//                                          enums the program never uses as a type)
//   src/decode/decode-event.generated.ts  the straight-line decoder, one line per member
// `npm run build:bpf` runs it after compiling; test/unit/record.test.ts fails when either file is
// stale. Usage: scripts/gen-record.js [--check]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const OBJECT = 'bpf/tcptrace.bpf.o';
const HEADER = 'bpf/tcptrace.h';
const LAYOUT_FILE = 'src/decode/record.generated.ts';
const DECODER_FILE = 'src/decode/decode-event.generated.ts';

// How TcpEvent shows the members that are not a number under their own (camelCase) name. `$m` is
// the byte offset of member m. Every member named nowhere here is read as a number of its C type
// under its camelCase name, with no declaration: that is the route for a new field (its display
// is one line of the field catalogue, src/format/schema-fields.ts). Members named `reserved*`
// are padding and skipped.
const LOCALS = [
  'const flags = buf[off + $flags];',
  'const v4 = u16(buf, off + $family) === AF_INET;',
  'const known = (flags & Flag.OWNER_KNOWN) !== 0;',
  'const tsNs = readU64(buf, off + $ts_ns);',
];
const SHOWN_BY_HAND = [
  ['tsNs', 'tsNs'],  // a local: time is computed from it too
  ['time', 'clock.wallMs(tsNs)'],
  ['skaddr', 'hex64(buf, off + $skaddr)'],
  ['pid', 'known ? u32(buf, off + $owner_pid) : 0'],
  ['comm', "known ? readComm(buf, off + $owner_comm) : ''"],
  ['ownerSource', 'ownerSource(flags, buf[off + $owner_how])'],
  ['cgroupId', 'known ? readU64(buf, off + $cgroup_id) : 0'],
  ['cpuComm', 'readComm(buf, off + $cpu_comm)'],
  ['family', 'v4 ? 4 : 6'],
  ['saddr', 'v4 ? formatIPv4(buf, off + $saddr) : formatIPv6(buf, off + $saddr)'],
  ['daddr', 'v4 ? formatIPv4(buf, off + $daddr) : formatIPv6(buf, off + $daddr)'],
  ['oldState', 'buf[off + $oldstate]'],
  ['newState', 'buf[off + $newstate]'],
  ['durationNs', 'flags & Flag.PREV_SEEN ? readU64(buf, off + $delta_ns) : null'],
  ['cause', 'causeName(buf[off + $cause])'],
  ['timeWait', '(flags & Flag.TIME_WAIT) !== 0'],
  ['side', "flags & Flag.ACTIVE ? 'active' : flags & Flag.PASSIVE ? 'passive' : ''"],
  ['holders', 'null'],
  ['listenerShared', '(flags & (Flag.OWNER_INHERITED | Flag.LISTENER_SHARED)) === (Flag.OWNER_INHERITED | Flag.LISTENER_SHARED)'],
  ['isAccept', '(flags & Flag.ACCEPT) !== 0'],
  ['totals', 'buf[off + $totals_read] ? readTotals(buf, off) : null'],
];
/** Members read only where the record carries them, by the hand-written reader named above:
 *  a connection's totals at its CLOSE (src/decode/totals.ts), left out of every other event. */
const READ_BY_HAND = ['bytes_acked', 'bytes_received', 'bytes_retrans', 'segs_out', 'segs_in', 'retrans_segs', 'retrans_rto',
  'rtt_min_us', 'busy_jiffies', 'rwnd_limited_jiffies', 'sndbuf_limited_jiffies'];
/** enum tcptrace_X in the header → the TS constant that carries it (prefix stripped from names) */
const ENUMS = [
  ['tcptrace_cause', 'Cause', 'TCPTRACE_CAUSE_'],
  ['tcptrace_flags', 'Flag', 'TCPTRACE_F_'],
  ['tcptrace_owner_how', 'OwnerHow', 'TCPTRACE_OWNER_'],
  ['tcptrace_handshake_diag', 'HandshakeDiag', 'TCPTRACE_HS_'],
  ['tcptrace_handshake_evidence', 'HandshakeEvidence', 'TCPTRACE_HSE_'],
  ['tcptrace_totals', 'Totals', 'TCPTRACE_TOTALS_'],
];

// ---- BTF (just what the record's structs need) ----
const KIND = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, TYPE_TAG: 18 };

function elfSection(buf, wanted) {
  const shoff = Number(buf.readBigUInt64LE(0x28)), shnum = buf.readUInt16LE(0x3c), shstrndx = buf.readUInt16LE(0x3e);
  const header = (i) => shoff + i * 64;
  const names = Number(buf.readBigUInt64LE(header(shstrndx) + 24));
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    const nameAt = names + buf.readUInt32LE(h);
    if (buf.toString('latin1', nameAt, buf.indexOf(0, nameAt)) === wanted) {
      return buf.subarray(Number(buf.readBigUInt64LE(h + 24)), Number(buf.readBigUInt64LE(h + 24) + buf.readBigUInt64LE(h + 32)));
    }
  }
  throw new Error(`${OBJECT} has no ${wanted} section: rebuild it with npm run build:bpf`);
}

function readBtf(btf) {
  const hdrLen = btf.readUInt32LE(4);
  const typeOff = hdrLen + btf.readUInt32LE(8), typeLen = btf.readUInt32LE(12), strOff = hdrLen + btf.readUInt32LE(16);
  const str = (o) => btf.toString('latin1', strOff + o, btf.indexOf(0, strOff + o));
  const types = [{ kind: 0, name: 'void' }];
  for (let o = typeOff; o < typeOff + typeLen;) {
    const info = btf.readUInt32LE(o + 4), kind = (info >>> 24) & 0x1f, vlen = info & 0xffff, kindFlag = info >>> 31;
    const t = { kind, name: str(btf.readUInt32LE(o)), sizeOrType: btf.readUInt32LE(o + 8) };
    o += 12;
    if (kind === KIND.INT) { const e = btf.readUInt32LE(o); t.signed = ((e >>> 24) & 1) === 1; t.bits = e & 0xff; o += 4; }
    else if (kind === KIND.ARRAY) { t.elem = btf.readUInt32LE(o); t.nelems = btf.readUInt32LE(o + 8); o += 12; }
    else if (kind === KIND.STRUCT || kind === KIND.UNION) {
      t.members = [];
      for (let i = 0; i < vlen; i++, o += 12) {
        const bits = btf.readUInt32LE(o + 8);
        t.members.push({ name: str(btf.readUInt32LE(o)), type: btf.readUInt32LE(o + 4), bitOffset: kindFlag ? bits & 0xffffff : bits, bitfield: kindFlag ? bits >>> 24 : 0 });
      }
    } else if (kind === KIND.ENUM || kind === 13) o += 8 * vlen;   // ENUM, FUNC_PROTO
    else if (kind === 14 || kind === 17) o += 4;                   // VAR, DECL_TAG
    else if (kind === 15 || kind === 19) o += 12 * vlen;           // DATASEC, ENUM64
    types.push(t);
  }
  return types;
}

function strip(types, id) {
  while ([KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT, KIND.TYPE_TAG].includes(types[id].kind)) id = types[id].sizeOrType;
  return types[id];
}

/** struct NAME's members: C name, byte offset, and a short type ('u8'…'u64', 's32', 'char[16]', 'u8[16]') */
function structLayout(types, name) {
  const s = types.find((t) => t.kind === KIND.STRUCT && t.name === name);
  if (!s) throw new Error(`${OBJECT} has no BTF for struct ${name}: rebuild it with npm run build:bpf`);
  const members = s.members.map((m) => {
    if (m.bitfield || m.bitOffset % 8) throw new Error(`struct ${name}.${m.name}: bit fields are not supported in the record`);
    return { name: m.name, offset: m.bitOffset / 8, type: shortType(types, m.type, `${name}.${m.name}`) };
  });
  return { size: s.sizeOrType, members };
}

function shortType(types, id, where) {
  const t = strip(types, id);
  if (t.kind === KIND.INT) return t.name === 'char' ? 'char' : `${t.signed ? 's' : 'u'}${t.bits}`;
  if (t.kind === KIND.ARRAY) return `${shortType(types, t.elem, where)}[${t.nelems}]`;
  throw new Error(`${where}: only integers and arrays of them can cross to user space`);
}

// ---- enums from the header ----
function headerEnums(text) {
  return ENUMS.map(([cName, tsName, prefix]) => {
    const body = text.match(new RegExp(`enum ${cName} \\{([^}]*)\\}`));
    if (!body) throw new Error(`${HEADER}: enum ${cName} not found`);
    const values = body[1].replace(/\/\*[\s\S]*?\*\//g, '').split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
      const m = entry.match(new RegExp(`^${prefix}(\\w+)\\s*=\\s*(?:(\\d+)|1\\s*<<\\s*(\\d+))$`));
      if (!m) throw new Error(`${HEADER}: enum ${cName}: write '${entry}' as ${prefix}NAME = N or = 1 << N`);
      return [m[1], m[2] !== undefined ? Number(m[2]) : 2 ** Number(m[3])];
    });
    return { cName, tsName, values };
  });
}

// ---- TypeScript ----
const camel = (s) => s.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const READER = { u8: 'buf[off + $]', u16: 'u16(buf, off + $)', u32: 'u32(buf, off + $)', u64: 'readU64(buf, off + $)',
  s8: 'buf.readInt8(off + $)', s16: 'buf.readInt16LE(off + $)', s32: 'buf.readInt32LE(off + $)' };

/** The header's comment on each member of struct NAME (for the generated types' docs). */
function memberComments(text, name) {
  const body = text.match(new RegExp(`struct ${name} \\{([\\s\\S]*?)\\n\\};`));
  const out = {};
  for (const m of (body ? body[1] : '').matchAll(/(\w+)(?:\[[^\]]*\])?;\s*\/\*\s*(.*?)\s*\*\//g)) out[m[1]] = m[2];
  return out;
}

function plainMembers(event) {
  const named = new Set([...LOCALS, ...SHOWN_BY_HAND.map(([, e]) => e)].join(' ').match(/\$\w+/g).map((s) => s.slice(1)).concat(READ_BY_HAND));
  const byName = new Map(event.members.map((m) => [m.name, m]));
  for (const n of named) if (!byName.has(n)) throw new Error(`scripts/gen-record.js names $${n}, which struct tcptrace_event does not have`);
  return event.members.filter((m) => !named.has(m.name) && !m.name.startsWith('reserved')).map((m) => {
    if (!READER[m.type]) throw new Error(`tcptrace_event.${m.name} (${m.type}): say in SHOWN_BY_HAND (scripts/gen-record.js) how TcpEvent shows it`);
    return { ...m, ts: camel(m.name), read: READER[m.type].replace('$', String(m.offset)) };
  });
}

const BANNER = (what) => `// GENERATED by scripts/gen-record.js from ${what}: do not edit.
// \`npm run build:bpf\` rewrites it; test/unit/record.test.ts fails when it is stale.
`;

function layoutSource(event, config, enums, plain) {
  const arrayLen = (s, m) => Number(s.members.find((x) => x.name === m).type.match(/\[(\d+)\]$/)[1]);
  const obj = (entries) => `{\n${entries.map(([k, v]) => `  ${k}: ${v},`).join('\n')}\n}`;
  return `${BANNER(`the BTF of ${OBJECT} and the enums of ${HEADER}`)}
/** sizeof(struct tcptrace_event) */
export const EVENT_SIZE = ${event.size};

/** struct tcptrace_event: each member's byte offset */
export const EventOffset = ${obj(event.members.map((m) => [m.name, m.offset]))} as const;

/** struct tcptrace_event: each member's C type */
export const EventType = ${obj(event.members.map((m) => [m.name, `'${m.type}'`]))} as const;

/** The members TcpEvent carries as numbers under their camelCase names (no hand-written decoding). */
export interface RecordFields {
${plain.map((m) => `  /** ${m.name} (${m.type})${m.doc ? `: ${m.doc}` : ''} */\n  ${m.ts}: number;`).join('\n')}
}

/** RecordFields' keys, in record order (tests build sample events from them). */
export const RECORD_FIELD_NAMES: readonly (keyof RecordFields)[] = [${plain.map((m) => `'${m.ts}'`).join(', ')}];

/** sizeof(struct tcptrace_config) */
export const CONFIG_SIZE = ${config.size};

/** struct tcptrace_config: each member's byte offset */
export const ConfigOffset = ${obj(config.members.filter((m) => !m.name.startsWith('reserved')).map((m) => [m.name, m.offset]))} as const;

/** TCPTRACE_COMM_LEN: the length of a comm member */
export const COMM_LEN = ${arrayLen(event, 'owner_comm')};
/** TCPTRACE_MAX_PORTS: ports per filter list in the config */
export const MAX_PORTS = ${arrayLen(config, 'lports')};
${enums.map((e) => `\n/** enum ${e.cName} */\nexport const ${e.tsName} = ${obj(e.values)} as const;`).join('\n')}
`;
}

function decoderSource(event, plain) {
  const offsets = Object.fromEntries(event.members.map((m) => [m.name, m.offset]));
  const sub = (s) => s.replace(/\$(\w+)/g, (_, n) => String(offsets[n]));
  return `${BANNER(`struct tcptrace_event (BTF of ${OBJECT}) and SHOWN_BY_HAND in that script`)}// Every event goes through here: plain byte arithmetic at constant offsets, one object literal.
import { AF_INET, causeName, hex64, ownerSource, readComm, readU64, u16, u32 } from './readers';
import { formatIPv4, formatIPv6 } from './address';
import { readTotals } from './totals';
import { Flag } from './record.generated';
import type { Clock } from './clock';
import type { TcpEvent } from './event';

export function decodeEvent(buf: Buffer, off: number, clock: Clock): TcpEvent {
${LOCALS.map((l) => `  ${sub(l)}`).join('\n')}
  return {
${SHOWN_BY_HAND.map(([k, e]) => `    ${k}: ${sub(e)},`).join('\n')}
${plain.map((m) => `    ${m.ts}: ${m.read}, // ${m.name}`).join('\n')}
  };
}
`;
}

/** The two files' text from the object's bytes and the header's text. */
function generate(objectBytes, headerText) {
  const types = readBtf(elfSection(objectBytes, '.BTF'));
  const event = structLayout(types, 'tcptrace_event');
  const config = structLayout(types, 'tcptrace_config');
  const comments = memberComments(headerText, 'tcptrace_event');
  const plain = plainMembers(event).map((m) => ({ ...m, doc: comments[m.name] }));
  return {
    [LAYOUT_FILE]: layoutSource(event, config, headerEnums(headerText), plain),
    [DECODER_FILE]: decoderSource(event, plain),
  };
}

function generateFromTree(root = ROOT) {
  return generate(fs.readFileSync(path.join(root, OBJECT)), fs.readFileSync(path.join(root, HEADER), 'utf8'));
}

module.exports = { generate, generateFromTree, LAYOUT_FILE, DECODER_FILE };

if (require.main === module) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [file, text] of Object.entries(generateFromTree())) {
    const at = path.join(ROOT, file);
    const old = fs.existsSync(at) ? fs.readFileSync(at, 'utf8') : '';
    if (old === text) continue;
    if (check) { stale++; process.stderr.write(`${file} is stale: run npm run build:bpf\n`); } else fs.writeFileSync(at, text);
  }
  process.exitCode = stale ? 1 : 0;
}
