// Docker cannot run here, so the deployment files are checked structurally: the manifests
// parse, hang together (selectors, ports, volumes, annotations, scrape configs), ask for no
// more privilege than docs/FLEET.md justifies, and the image recipe copies what tcptrace
// loads at run time; the container arguments go through tcptrace's own option parser.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseArgs } from '../../src/command/options';

const ROOT = path.join(__dirname, '..', '..');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

function loadYaml(file: string): Doc[] {
  const docs = parseAllDocuments(read(file));
  for (const d of docs) expect(d.errors, `${file}: ${d.errors.map((e) => e.message).join('; ')}`).toEqual([]);
  return docs.map((d) => d.toJS()).filter((d) => d !== null);
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const QUANTITY = /^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;

/** The shape every Kubernetes object needs, and what the kubelet checks of a pod spec. */
function checkObject(o: Doc): void {
  expect(typeof o.apiVersion).toBe('string');
  expect(typeof o.kind).toBe('string');
  expect(o.metadata?.name).toMatch(DNS1123_LABEL);
  if (o.metadata.namespace !== undefined) expect(o.metadata.namespace).toMatch(DNS1123_LABEL);
  for (const v of Object.values(o.metadata.labels ?? {})) expect(typeof v).toBe('string');
  for (const v of Object.values(o.metadata.annotations ?? {})) expect(typeof v).toBe('string');
}

function checkPodSpec(spec: Doc): void {
  const volumes = new Set((spec.volumes ?? []).map((v: Doc) => v.name));
  expect(Array.isArray(spec.containers) && spec.containers.length > 0).toBe(true);
  for (const c of spec.containers) {
    expect(c.name).toMatch(DNS1123_LABEL);
    expect(typeof c.image).toBe('string');
    for (const a of c.args ?? []) expect(typeof a).toBe('string');
    for (const p of c.ports ?? []) {
      expect(Number.isInteger(p.containerPort) && p.containerPort > 0 && p.containerPort < 65536).toBe(true);
      if (p.name) expect(p.name.length).toBeLessThanOrEqual(15);
    }
    for (const m of c.volumeMounts ?? []) {
      expect(volumes.has(m.name), `volume ${m.name} declared`).toBe(true);
      expect(m.mountPath.startsWith('/')).toBe(true);
    }
    for (const kind of ['requests', 'limits']) for (const q of Object.values(c.resources?.[kind] ?? {})) expect(String(q)).toMatch(QUANTITY);
    for (const e of c.env ?? []) expect(e.name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  }
}

describe('deploy/daemonset.yaml', () => {
  const docs = loadYaml('deploy/daemonset.yaml');
  const ns = docs.find((d) => d.kind === 'Namespace');
  const ds = docs.find((d) => d.kind === 'DaemonSet');
  const pod = ds?.spec?.template?.spec;
  const c = pod?.containers?.[0];

  it('is a Namespace and an apps/v1 DaemonSet in it', () => {
    for (const d of docs) checkObject(d);
    expect(ns.apiVersion).toBe('v1');
    expect(ds.apiVersion).toBe('apps/v1');
    expect(ds.metadata.namespace).toBe(ns.metadata.name);
    checkPodSpec(pod);
  });

  it('selects its own pods', () => {
    const labels = ds.spec.template.metadata.labels;
    for (const [k, v] of Object.entries(ds.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
  });

  it('runs tcptrace with options it accepts, serving /metrics on the declared port', () => {
    expect(pod.containers).toHaveLength(1);
    const plan = parseArgs(c.args);
    const port = c.ports.find((p: Doc) => p.name === 'metrics');
    expect(plan.metrics).toEqual({ host: '0.0.0.0', port: port.containerPort });
    expect(plan.quiet).toBe(true);
    const notes = ds.spec.template.metadata.annotations;
    expect(notes['prometheus.io/scrape']).toBe('true');
    expect(Number(notes['prometheus.io/port'])).toBe(port.containerPort);
    expect(notes['prometheus.io/path']).toBe('/metrics');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
  });

  it('asks for the least privilege that works', () => {
    const sc = c.securityContext;
    expect(sc.privileged).toBe(false);
    expect(sc.allowPrivilegeEscalation).toBe(false);
    expect(sc.readOnlyRootFilesystem).toBe(true);
    expect(sc.capabilities.drop).toEqual(['ALL']);
    const add: string[] = sc.capabilities.add;
    expect(add).toEqual(expect.arrayContaining(['BPF', 'PERFMON']));
    // Each extra one is justified in docs/FLEET.md; SYS_ADMIN and NET_ADMIN are not needed.
    for (const cap of add) expect(['BPF', 'PERFMON', 'SYS_PTRACE', 'DAC_READ_SEARCH']).toContain(cap);
    expect(add).not.toContain('SYS_ADMIN');
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostIPC ?? false).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    const fleet = read('docs/FLEET.md');
    for (const cap of add) expect(fleet).toContain(`CAP_${cap}`);
  });

  it('mounts host paths read-only: BTF, and the cgroup tree it is told about', () => {
    const vols = new Map(pod.volumes.map((v: Doc) => [v.name, v]));
    for (const m of c.volumeMounts) {
      expect(m.readOnly).toBe(true);
      expect((vols.get(m.name) as Doc).hostPath).toBeDefined();
    }
    const btf = c.volumeMounts.find((m: Doc) => (vols.get(m.name) as Doc).hostPath.path === '/sys/kernel/btf');
    expect(btf?.mountPath).toBe('/sys/kernel/btf');
    const cgroupRoot = c.env.find((e: Doc) => e.name === 'TCPTRACE_CGROUP_ROOT')?.value;
    const cg = c.volumeMounts.find((m: Doc) => m.mountPath === cgroupRoot);
    expect((vols.get(cg.name) as Doc).hostPath.path).toBe('/sys/fs/cgroup');
  });
});

describe('Prometheus scrape examples', () => {
  const ds = loadYaml('deploy/daemonset.yaml').find((d) => d.kind === 'DaemonSet');
  const podLabels = ds.spec.template.metadata.labels;
  const portName = ds.spec.template.spec.containers[0].ports[0].name;

  it('deploy/prometheus.yml keeps exactly the DaemonSet pods and port', () => {
    const [cfg] = loadYaml('deploy/prometheus.yml');
    const jobs = cfg.scrape_configs;
    expect(new Set(jobs.map((j: Doc) => j.job_name)).size).toBe(jobs.length);
    const k8s = jobs.find((j: Doc) => j.kubernetes_sd_configs);
    expect(k8s.kubernetes_sd_configs[0].role).toBe('pod');
    expect(k8s.kubernetes_sd_configs[0].namespaces.names).toContain(ds.metadata.namespace);
    for (const r of k8s.relabel_configs) expect(['keep', 'drop', 'replace', undefined]).toContain(r.action);
    const keepApp = k8s.relabel_configs.find((r: Doc) => r.action === 'keep' && r.source_labels[0].startsWith('__meta_kubernetes_pod_label_'));
    // Prometheus turns label names into [a-zA-Z0-9_] by replacing the rest with '_'.
    const label = Object.keys(podLabels).find((k) => `__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}` === keepApp.source_labels[0]);
    expect(label).toBeDefined();
    expect(new RegExp(`^(?:${keepApp.regex})$`).test(podLabels[label as string])).toBe(true);
    const keepPort = k8s.relabel_configs.find((r: Doc) => r.source_labels?.[0] === '__meta_kubernetes_pod_container_port_name');
    expect(new RegExp(`^(?:${keepPort.regex})$`).test(portName)).toBe(true);
    const hosts = jobs.find((j: Doc) => j.static_configs);
    for (const t of hosts.static_configs[0].targets) expect(t).toMatch(/^[\w.-]+:\d+$/);
  });

  it('deploy/podmonitor.yaml selects the pods by label and the port by name', () => {
    const [pm] = loadYaml('deploy/podmonitor.yaml');
    checkObject(pm);
    expect(pm.kind).toBe('PodMonitor');
    for (const [k, v] of Object.entries(pm.spec.selector.matchLabels)) expect(podLabels[k]).toBe(v);
    expect(pm.spec.podMetricsEndpoints[0].port).toBe(portName);
    expect(pm.spec.podMetricsEndpoints[0].path).toBe('/metrics');
  });
});

interface Instruction { op: string; args: string; stage: number }

/** Dockerfile instructions with continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!pending && (line.trim() === '' || line.trimStart().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(full);
    if (!m) throw new Error(`not an instruction: ${full}`);
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2], stage });
  }
  return out;
}

describe('deploy/Dockerfile', () => {
  const ins = parseDockerfile(read('deploy/Dockerfile'));
  const ignore = read('deploy/Dockerfile.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const KNOWN = new Set(['FROM', 'RUN', 'COPY', 'WORKDIR', 'ENV', 'USER', 'EXPOSE', 'ENTRYPOINT', 'CMD', 'ARG', 'LABEL']);

  it('uses only known instructions, in two stages on Node 20', () => {
    for (const i of ins) expect(KNOWN.has(i.op), i.op).toBe(true);
    const froms = ins.filter((i) => i.op === 'FROM');
    expect(froms).toHaveLength(2);
    for (const f of froms) expect(f.args).toMatch(/^node:20[-\w.]*( AS \w+)?$/);
    const engines = JSON.parse(read('package.json')).engines.node;
    expect(engines).toBe('>=20');
  });

  it('copies from the build context only what exists and is not ignored', () => {
    for (const i of ins.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'))) {
      const parts = i.args.split(/\s+/);
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(path.join(ROOT, src)), `${src} exists`).toBe(true);
        for (const pattern of ignore) expect(src.replace(/\/$/, '')).not.toBe(pattern.replace(/^\*\*\//, ''));
      }
    }
  });

  it('puts in the final image what tcptrace loads at run time', () => {
    const workdir = ins.filter((i) => i.stage === 1 && i.op === 'WORKDIR').pop()?.args as string;
    // Where each copied file or directory lands (a destination ending in '/' keeps the name).
    const copied = ins.filter((i) => i.stage === 1 && i.op === 'COPY').flatMap((i) => {
      const parts = i.args.split(/\s+/).filter((x) => !x.startsWith('--'));
      const dst = parts.pop() as string;
      return parts.map((src) => (dst.endsWith('/') || dst === '.' ? path.posix.join(workdir, dst, path.posix.basename(src)) : path.posix.join(workdir, dst)));
    });
    const inImage = (p: string) => {
      const want = path.posix.join(workdir, p);
      return copied.some((got) => got === want || want.startsWith(`${got}/`));
    };
    // src/native/binding.ts loads build/Release/tcptrace.node first (node-gyp-build, from
    // node_modules); src/probe/probe.ts bpf/tcptrace.bpf.o.
    expect(read('src/native/binding.ts')).toContain("require('node-gyp-build')");
    expect(read('src/probe/probe.ts')).toContain("'..', 'bpf', 'tcptrace.bpf.o'");
    for (const p of ['build/Release/tcptrace.node', 'bpf/tcptrace.bpf.o', 'dist/cli.js', 'bin/tcptrace', 'node_modules', 'package.json', 'web']) {
      expect(inImage(p), p).toBe(true);
    }
    // libbpf's shared library for the addon.
    expect(ins.some((i) => i.stage === 1 && i.op === 'RUN' && /\blibbpf1\b/.test(i.args))).toBe(true);
  });

  it('starts tcptrace with options it accepts, on the port it exposes', () => {
    const entry = JSON.parse(ins.find((i) => i.op === 'ENTRYPOINT')!.args);
    expect(entry[entry.length - 1]).toBe('/opt/tcptrace/bin/tcptrace');
    const cmd = JSON.parse(ins.find((i) => i.op === 'CMD')!.args);
    const plan = parseArgs(cmd);
    expect(plan.metrics?.host).toBe('0.0.0.0');
    expect(Number(ins.find((i) => i.op === 'EXPOSE')!.args)).toBe(plan.metrics?.port);
    const ds = loadYaml('deploy/daemonset.yaml').find((d) => d.kind === 'DaemonSet');
    expect(ds.spec.template.spec.containers[0].ports[0].containerPort).toBe(plan.metrics?.port);
  });
});
