// SPDX-License-Identifier: Apache-2.0
//
// isorun's device policy on cgroup v2 (runtime/src/cgroup/devices.rs): a
// BPF_PROG_TYPE_CGROUP_DEVICE program that decides each open or mknod of a
// device node by the container's rule list, kept in the RULES array map
// that isorun fills after loading (through the aya crate). Rules are walked
// from the last to the first; the first one that matches decides (so the
// last matching rule of the list wins, as in runtime/src/cgroup/devices.rs
// `permits`). A rule matches when its type is 0 (all) or the device's, its
// major and minor are -1 (any) or the device's, and it grants every access
// asked for. Nothing matching denies.
//
// Built by runtime/build.rs with `clang -target bpf`; no libbpf headers are
// needed, the few definitions below stand in for bpf_helpers.h.

#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

#define MAX_RULES 128

struct rule {
	__u32 used;   // 0: an empty slot
	__u32 allow;  // 1 allow, 0 deny
	__u32 kind;   // 0 all, BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR
	__u32 access; // BPF_DEVCG_ACC_MKNOD | _READ | _WRITE
	__s64 major;  // -1: any
	__s64 minor;  // -1: any
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_RULES);
	__type(key, __u32);
	__type(value, struct rule);
} RULES SEC(".maps");

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;

SEC("cgroup/dev")
int isorun_devices(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 kind = ctx->access_type & 0xFFFF;
	__u32 access = ctx->access_type >> 16;
	__s64 major = ctx->major;
	__s64 minor = ctx->minor;

	for (__u32 n = 0; n < MAX_RULES; n++) {
		__u32 i = MAX_RULES - 1 - n;
		struct rule *r = bpf_map_lookup_elem(&RULES, &i);

		if (!r || !r->used)
			continue;
		if (r->kind && r->kind != kind)
			continue;
		if (r->major >= 0 && r->major != major)
			continue;
		if (r->minor >= 0 && r->minor != minor)
			continue;
		if ((access & r->access) != access)
			continue;
		return r->allow ? 1 : 0;
	}
	return 0;
}

char _license[] SEC("license") = "Apache-2.0";
