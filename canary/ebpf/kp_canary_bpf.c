// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-packer canary eBPF object, compiled the samples/bpf way: clang with the include paths and
 * CPP flags kbuild itself computes for the bundle (LINUXINCLUDE, KBUILD_CPPFLAGS), emitted as LLVM
 * IR and lowered by `llc -march=bpf`. It reads kernel structures (task_struct, pt_regs, sk_buff)
 * from the bundle's own headers, so a header set that does not describe the kernel fails here.
 */
#include <linux/version.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/skbuff.h>
#include <linux/netdevice.h>
#include <uapi/linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

/* The first argument register of the probed function, from the bundle's own pt_regs. */
#if defined(__aarch64__)
#define KP_PARM1(x) ((x)->regs[0])
#else
#define KP_PARM1(x) ((x)->di)
#endif

struct kp_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

static void *(*kp_map_lookup_elem)(void *map, const void *key) =
	(void *)BPF_FUNC_map_lookup_elem;
static long (*kp_probe_read)(void *dst, __u32 size, const void *src) =
	(void *)BPF_FUNC_probe_read;
static __u64 (*kp_get_current_task)(void) = (void *)BPF_FUNC_get_current_task;

struct kp_map_def SEC("maps") kp_counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

SEC("kprobe/do_sys_openat2")
int kp_openat(struct pt_regs *ctx)
{
	struct task_struct *task = (struct task_struct *)kp_get_current_task();
	pid_t tgid = 0;
	__u32 key = 0;
	__u64 *count;

	kp_probe_read(&tgid, sizeof(tgid), &task->tgid);
	if (tgid == 0 && KP_PARM1(ctx) == 0)
		return 0;
	count = kp_map_lookup_elem(&kp_counts, &key);
	if (count)
		__sync_fetch_and_add(count, 1);
	return 0;
}

SEC("kprobe/__dev_queue_xmit")
int kp_xmit(struct pt_regs *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)KP_PARM1(ctx);
	unsigned int len = 0;
	__u32 key = 1;
	__u64 *bytes;

	kp_probe_read(&len, sizeof(len), &skb->len);
	bytes = kp_map_lookup_elem(&kp_counts, &key);
	if (bytes)
		__sync_fetch_and_add(bytes, len);
	return 0;
}

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = LINUX_VERSION_CODE;
