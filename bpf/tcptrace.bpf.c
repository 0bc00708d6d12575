// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcptrace kernel side: one record per TCP state change, owner attribution and
 * close causes from neighbouring tracepoints. CO-RE: only the fields read are declared
 * (kernel-types.bpf.h), with preserve_access_index, so no vmlinux.h or kernel headers are
 * needed. The parts below are included in dependency order, one responsibility each.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcptrace.h"

#include "kernel-types.bpf.h"
#include "maps.bpf.h"
#include "kernel-read.bpf.h"
#include "transition.bpf.h"
#include "handshake.bpf.h"
#include "conn-stats.bpf.h"
#include "emit.bpf.h"
#include "state.bpf.h"
#include "hidden.bpf.h"
#include "causes.bpf.h"
#include "owner.bpf.h"
#include "first-use.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
