// Reads what the kernel's verifier will be shown from a compiled BPF object (ELF64, little
// endian): each program with the subprograms it calls, its instructions, the helpers and maps it
// uses, and its CO-RE relocations with the type and field path they name. Enough for static
// checks against older kernels; not a general ELF or BTF reader.
import { readFileSync } from 'node:fs';

interface Section { name: string; type: number; offset: number; size: number; link: number; info: number }
interface ElfSymbol { name: string; type: number; section: number; value: number; size: number }
export interface Insn { code: number; dst: number; src: number; off: number; imm: number }
export interface CoreRelo { kind: number; typeName: string; path: string }
export interface BpfProgram {
  name: string;
  section: string;
  /** instruction slots (a 64-bit immediate load takes two), with the subprograms it calls */
  insnCount: number;
  subprograms: string[];
  /** the instructions of the program and of each subprogram, one array per function */
  functions: Insn[][];
  helpers: Set<number>;
  maps: Set<string>;
  relos: CoreRelo[];
}

const SHT_SYMTAB = 2, SHT_REL = 9, STT_FUNC = 2;
const BPF_CALL = 0x85, BPF_PSEUDO_CALL = 1;

export function readBpfObject(path: string): { programs: BpfProgram[]; mapTypes: Map<string, number> } {
  const buf = readFileSync(path);
  const u16 = (o: number) => buf.readUInt16LE(o), u32 = (o: number) => buf.readUInt32LE(o);
  const u64 = (o: number) => Number(buf.readBigUInt64LE(o));
  const shoff = u64(0x28), shnum = u16(0x3c), shstrndx = u16(0x3e);
  const raw = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * 64;
    return { nameOff: u32(o), type: u32(o + 4), offset: u64(o + 24), size: u64(o + 32), link: u32(o + 40), info: u32(o + 44) };
  });
  const cstr = (o: number) => buf.toString('latin1', o, buf.indexOf(0, o));
  const sections: Section[] = raw.map((s) => ({ ...s, name: cstr(raw[shstrndx].offset + s.nameOff) }));
  const symtab = sections.find((s) => s.type === SHT_SYMTAB)!;
  const symbols: ElfSymbol[] = [];
  for (let o = symtab.offset; o < symtab.offset + symtab.size; o += 24) {
    symbols.push({ name: cstr(sections[symtab.link].offset + u32(o)), type: buf[o + 4] & 0xf, section: u16(o + 6), value: u64(o + 8), size: u64(o + 16) });
  }
  const insnsOf = (sec: Section, from = 0, bytes = sec.size): Insn[] => {
    const out: Insn[] = [];
    for (let o = sec.offset + from; o < sec.offset + from + bytes; o += 8) {
      out.push({ code: buf[o], dst: buf[o + 1] & 0xf, src: buf[o + 1] >> 4, off: buf.readInt16LE(o + 2), imm: buf.readInt32LE(o + 4) });
    }
    return out;
  };
  // relocations by target section index, keyed by byte offset
  const relocs = new Map<number, Map<number, ElfSymbol>>();
  for (const s of sections.filter((x) => x.type === SHT_REL)) {
    const m = new Map<number, ElfSymbol>();
    for (let o = s.offset; o < s.offset + s.size; o += 16) m.set(u64(o), symbols[u32(o + 12)]);
    relocs.set(s.info, m);
  }
  const textIndex = sections.findIndex((s) => s.name === '.text');
  const mapsIndex = sections.findIndex((s) => s.name === '.maps');
  const btf = readBtf(buf, sections);
  const coreRelos = readCoreRelos(buf, sections, btf);

  const programs: BpfProgram[] = [];
  for (const sym of symbols.filter((s) => s.type === STT_FUNC && s.section !== textIndex && sections[s.section]?.name.includes('/'))) {
    const sec = sections[sym.section];
    const prog: BpfProgram = { name: sym.name, section: sec.name, insnCount: 0, subprograms: [], functions: [], helpers: new Set(), maps: new Set(), relos: [] };
    const visit = (secIndex: number, start: number, size: number) => {
      const insns = insnsOf(sections[secIndex], start, size);
      prog.functions.push(insns);
      prog.insnCount += insns.length;
      prog.relos.push(...(coreRelos.get(sections[secIndex].name) ?? []).filter((r) => r.off >= start && r.off < start + size));
      insns.forEach((insn, i) => {
        const at = start + i * 8, target = relocs.get(secIndex)?.get(at);
        if (target && target.section === mapsIndex) prog.maps.add(target.name);
        else if (target && /^\.(rodata|data|bss)/.test(sections[target.section]?.name ?? '')) prog.maps.add(sections[target.section].name);
        if (insn.code !== BPF_CALL) return;
        if (insn.src !== BPF_PSEUDO_CALL) { prog.helpers.add(insn.imm); return; }
        // libbpf's rule: target = symbol offset / 8 + imm + 1 (a pc-relative call has no relocation)
        const into = target ? target.section : secIndex;
        const slot = target ? target.value / 8 + insn.imm + 1 : at / 8 + insn.imm + 1;
        const callee = symbols.find((s) => s.type === STT_FUNC && s.section === into && s.value === slot * 8)!;
        if (into === textIndex && !prog.subprograms.includes(callee.name)) {
          prog.subprograms.push(callee.name);
          visit(textIndex, callee.value, callee.size);
        }
      });
    };
    visit(sym.section, sym.value, sym.size);
    programs.push(prog);
  }
  return { programs, mapTypes: btf.mapTypes };
}

// ---- BTF: type names, member names (for CO-RE paths) and the map types declared in .maps ----
interface BtfType { kind: number; name: string; type: number; members: { name: string; type: number }[]; nelems: number }

function readBtf(buf: Buffer, sections: Section[]) {
  const sec = sections.find((s) => s.name === '.BTF')!;
  const b = sec.offset, hdrLen = buf.readUInt32LE(b + 4);
  const typeOff = b + hdrLen + buf.readUInt32LE(b + 8), typeLen = buf.readUInt32LE(b + 12);
  const strOff = b + hdrLen + buf.readUInt32LE(b + 16);
  const str = (o: number) => buf.toString('latin1', strOff + o, buf.indexOf(0, strOff + o));
  const types: BtfType[] = [{ kind: 0, name: 'void', type: 0, members: [], nelems: 0 }];
  for (let o = typeOff; o < typeOff + typeLen;) {
    const info = buf.readUInt32LE(o + 4), kind = (info >> 24) & 0x1f, vlen = info & 0xffff;
    const t: BtfType = { kind, name: str(buf.readUInt32LE(o)), type: buf.readUInt32LE(o + 8), members: [], nelems: 0 };
    o += 12;
    if (kind === 1 || kind === 14 || kind === 17) o += 4;                 // INT, VAR, DECL_TAG
    else if (kind === 3) { t.type = buf.readUInt32LE(o); t.nelems = buf.readUInt32LE(o + 8); o += 12; } // ARRAY
    else if (kind === 4 || kind === 5) {                                   // STRUCT, UNION
      for (let i = 0; i < vlen; i++, o += 12) t.members.push({ name: str(buf.readUInt32LE(o)), type: buf.readUInt32LE(o + 4) });
    } else if (kind === 6 || kind === 13) o += 8 * vlen;                   // ENUM, FUNC_PROTO
    else if (kind === 15 || kind === 19) {                                 // DATASEC, ENUM64
      if (kind === 15) for (let i = 0; i < vlen; i++) t.members.push({ name: '', type: buf.readUInt32LE(o + i * 12) });
      o += 12 * vlen;
    }
    types.push(t);
  }
  const skipModifiers = (id: number) => { while ([8, 9, 10, 11, 18].includes(types[id].kind)) id = types[id].type; return id; };
  // A map's `type` member is a pointer to an array whose length is the map type.
  const mapTypes = new Map<string, number>();
  for (const v of types.find((t) => t.kind === 15 && t.name === '.maps')?.members ?? []) {
    const def = types[skipModifiers(types[v.type].type)];
    const typeMember = def.members.find((m) => m.name === 'type');
    if (typeMember) mapTypes.set(types[v.type].name, types[skipModifiers(types[skipModifiers(typeMember.type)].type)].nelems);
  }
  return { types, str, skipModifiers, mapTypes };
}

function readCoreRelos(buf: Buffer, sections: Section[], btf: ReturnType<typeof readBtf>) {
  const out = new Map<string, (CoreRelo & { off: number })[]>();
  const sec = sections.find((s) => s.name === '.BTF.ext');
  if (!sec) return out;
  const b = sec.offset, hdrLen = buf.readUInt32LE(b + 4);
  if (hdrLen < 32) return out;
  let o = b + hdrLen + buf.readUInt32LE(b + 24);
  const end = o + buf.readUInt32LE(b + 28), recSize = buf.readUInt32LE(o);
  for (o += 4; o < end;) {
    const secName = btf.str(buf.readUInt32LE(o)), n = buf.readUInt32LE(o + 4);
    const list: (CoreRelo & { off: number })[] = [];
    for (let i = 0, r = o + 8; i < n; i++, r += recSize) {
      const typeId = buf.readUInt32LE(r + 4), access = btf.str(buf.readUInt32LE(r + 8)), kind = buf.readUInt32LE(r + 12);
      list.push({ off: buf.readUInt32LE(r), kind, typeName: btf.types[typeId].name, path: fieldPath(btf, typeId, access, kind) });
    }
    out.set(secName, list);
    o += 8 + n * recSize;
  }
  return out;
}

/** "0:1:2" on struct sock -> "__sk_common.skc_dport" (the first index steps over the pointer). */
function fieldPath(btf: ReturnType<typeof readBtf>, typeId: number, access: string, kind: number): string {
  if (kind > 5) return access;  // type and enum relocations name no field
  const names: string[] = [];
  let t = btf.types[btf.skipModifiers(typeId)];
  for (const index of access.split(':').slice(1).map(Number)) {
    if (t.kind === 3) { t = btf.types[btf.skipModifiers(t.type)]; continue; }  // array element
    const m = t.members[index];
    if (m.name) names.push(m.name);
    t = btf.types[btf.skipModifiers(m.type)];
  }
  return names.join('.');
}

/** True when a function's control flow has a cycle (kernels before 5.3 refuse any loop). */
export function hasLoop(insns: Insn[]): boolean {
  const LD_IMM64 = 0x18, JA = 0x05, EXIT = 0x95;
  const next = (i: number): number[] => {
    const c = insns[i].code;
    if (c === LD_IMM64) return [i + 2];
    if (c === EXIT) return [];
    if ((c & 7) !== 5 && (c & 7) !== 6) return [i + 1];
    if (c === BPF_CALL) return [i + 1];
    const target = i + 1 + insns[i].off;
    return c === JA ? [target] : [i + 1, target];
  };
  const state = new Uint8Array(insns.length); // 0 new, 1 on the path, 2 done
  const stack: [number, number[]][] = [[0, next(0)]];
  state[0] = 1;
  while (stack.length) {
    const top = stack[stack.length - 1];
    const n = top[1].pop();
    if (n === undefined) { state[top[0]] = 2; stack.pop(); continue; }
    if (n >= insns.length) continue;
    if (state[n] === 1) return true;
    if (state[n] === 0) { state[n] = 1; stack.push([n, next(n)]); }
  }
  return false;
}
