/*
 * bpf-progs.c - what the kernel says about the BPF programs one process holds: for each, the
 * instructions the verifier processed to accept it (verified_insns, 5.16+), its size after
 * load, and its run count and run time (kernel.bpf_stats_enabled=1 for those to move).
 *
 * Usage: bpf-progs PID     (gcc -O2 -o bench/out/bpf-progs bench/bpf-progs.c -lbpf; root)
 * Prints one line per program: name verified_insns xlated_insns run_cnt run_time_ns
 * recursion_misses.
 * Programs are found through the process's file descriptors (/proc/PID/fdinfo: prog_id), so
 * several tracers running at once (other test suites) are told apart.
 */
#include <bpf/bpf.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PROGS 64

static int seen(const __u32 *ids, int n, __u32 id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: bpf-progs PID\n");
		return 2;
	}
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%s/fdinfo", argv[1]);
	DIR *d = opendir(dir);
	if (!d) {
		perror(dir);
		return 1;
	}
	__u32 ids[MAX_PROGS];
	int n = 0;
	struct dirent *ent;
	while ((ent = readdir(d)) && n < MAX_PROGS) {
		char path[384], line[256];
		snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		/* a program's fd and a link's fd both name the program */
		while (fgets(line, sizeof(line), f)) {
			unsigned int id;
			if (sscanf(line, "prog_id: %u", &id) == 1 && !seen(ids, n, id))
				ids[n++] = id;
		}
		fclose(f);
	}
	closedir(d);
	for (int i = 0; i < n; i++) {
		int fd = bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			printf("%s %u %u %llu %llu %llu\n", info.name, info.verified_insns, info.xlated_prog_len / 8,
			       (unsigned long long)info.run_cnt, (unsigned long long)info.run_time_ns,
			       (unsigned long long)info.recursion_misses);
		close(fd);
	}
	return 0;
}
