// Dumps the handler log of bench/gap-oracle (handler-log.patch): log map id, meta map id.
#include <bpf/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
struct rec { uint64_t sk, ts; uint32_t states, who; };
int main(int argc, char **argv) {
  int log = bpf_map_get_fd_by_id(atoi(argv[1])), meta = bpf_map_get_fd_by_id(atoi(argv[2]));
  uint32_t z = 0; uint64_t n = 0;
  if (log < 0 || meta < 0 || bpf_map_lookup_elem(meta, &z, &n)) { perror("map"); return 1; }
  if (n > (1u << 20)) n = 1u << 20;
  for (uint32_t i = 0; i < n; i++) { struct rec r; if (bpf_map_lookup_elem(log, &i, &r)) continue; printf("%llx %llu %u %u %u %u\n", (unsigned long long)r.sk, (unsigned long long)r.ts, r.states >> 8, r.states & 0xff, r.who & 0xf, r.who >> 8); }
  return 0;
}
