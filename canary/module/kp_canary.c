// SPDX-License-Identifier: GPL-2.0
/*
 * kernel-packer canary module: built (never loaded) against every bundle before it is published.
 * It uses what real out-of-tree modules use: a kprobe, a tracepoint probe, a netfilter hook, a
 * procfs seq_file, a workqueue, and a sweep of common headers. If any of these fail to compile or
 * link (modpost) against a bundle, the bundle is not published.
 */
#include <linux/version.h>
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/init.h>
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/list.h>
#include <linux/hashtable.h>
#include <linux/rculist.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/atomic.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/wait.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/utsname.h>
#include <linux/fs.h>
#include <linux/file.h>
#include <linux/fdtable.h>
#include <linux/dcache.h>
#include <linux/namei.h>
#include <linux/mount.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/highmem.h>
#include <linux/vmalloc.h>
#include <linux/uaccess.h>
#include <linux/binfmts.h>
#include <linux/ptrace.h>
#include <linux/signal.h>
#include <linux/cgroup.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/skbuff.h>
#include <linux/netdevice.h>
#include <linux/socket.h>
#include <linux/un.h>
#include <net/sock.h>
#include <net/net_namespace.h>
#include <net/inet_sock.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include <linux/perf_event.h>
#include <linux/ftrace.h>
#include <linux/bpf.h>
#include <asm/syscall.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kernel-packer canary: builds against a bundle, never loaded");

static atomic64_t kp_hits = ATOMIC64_INIT(0);

/* kprobe */
static int kp_pre(struct kprobe *p, struct pt_regs *regs)
{
	atomic64_inc(&kp_hits);
	return 0;
}

static struct kprobe kp_probe = {
	.symbol_name = "do_sys_openat2",
	.pre_handler = kp_pre,
};

/* tracepoint probe, found by name like Falco and sysdig do */
static struct tracepoint *kp_tp;

static void kp_tp_probe(void *data, struct task_struct *p)
{
	if (p && task_pid_nr(p) > 0)
		atomic64_inc(&kp_hits);
}

static void kp_find_tp(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "sched_process_exit"))
		kp_tp = tp;
}

/* netfilter hook */
static unsigned int kp_nf_hook(void *priv, struct sk_buff *skb,
			       const struct nf_hook_state *state)
{
	if (skb && ip_hdr(skb)->protocol == IPPROTO_TCP)
		atomic64_inc(&kp_hits);
	return NF_ACCEPT;
}

static struct nf_hook_ops kp_nf_ops = {
	.hook = kp_nf_hook,
	.pf = NFPROTO_IPV4,
	.hooknum = NF_INET_LOCAL_OUT,
	.priority = NF_IP_PRI_FIRST,
};

/* procfs seq_file */
static int kp_seq_show(struct seq_file *m, void *v)
{
	seq_printf(m, "hits %lld uts %s\n", (long long)atomic64_read(&kp_hits),
		   utsname()->release);
	return 0;
}

static int kp_seq_open(struct inode *inode, struct file *file)
{
	return single_open(file, kp_seq_show, NULL);
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 6, 0)
static const struct proc_ops kp_proc_ops = {
	.proc_open = kp_seq_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
};
#else
static const struct file_operations kp_proc_ops = {
	.owner = THIS_MODULE,
	.open = kp_seq_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = single_release,
};
#endif

static struct proc_dir_entry *kp_proc;

/* workqueue */
static struct workqueue_struct *kp_wq;

static void kp_work_fn(struct work_struct *work)
{
	const struct cred *cred = current_cred();

	if (uid_eq(cred->uid, GLOBAL_ROOT_UID))
		atomic64_inc(&kp_hits);
}

static DECLARE_WORK(kp_work, kp_work_fn);

static int __init kp_canary_init(void)
{
	int err;

	err = register_kprobe(&kp_probe);
	if (err)
		return err;
	for_each_kernel_tracepoint(kp_find_tp, NULL);
	if (kp_tp) {
		err = tracepoint_probe_register(kp_tp, (void *)kp_tp_probe, NULL);
		if (err)
			goto out_kprobe;
	}
	err = nf_register_net_hook(&init_net, &kp_nf_ops);
	if (err)
		goto out_tp;
	kp_proc = proc_create("kp_canary", 0444, NULL, &kp_proc_ops);
	if (!kp_proc) {
		err = -ENOMEM;
		goto out_nf;
	}
	kp_wq = alloc_workqueue("kp_canary", WQ_UNBOUND, 1);
	if (!kp_wq) {
		err = -ENOMEM;
		goto out_proc;
	}
	queue_work(kp_wq, &kp_work);
	return 0;

out_proc:
	proc_remove(kp_proc);
out_nf:
	nf_unregister_net_hook(&init_net, &kp_nf_ops);
out_tp:
	if (kp_tp)
		tracepoint_probe_unregister(kp_tp, (void *)kp_tp_probe, NULL);
out_kprobe:
	unregister_kprobe(&kp_probe);
	return err;
}

static void __exit kp_canary_exit(void)
{
	destroy_workqueue(kp_wq);
	proc_remove(kp_proc);
	nf_unregister_net_hook(&init_net, &kp_nf_ops);
	if (kp_tp) {
		tracepoint_probe_unregister(kp_tp, (void *)kp_tp_probe, NULL);
		tracepoint_synchronize_unregister();
	}
	unregister_kprobe(&kp_probe);
}

module_init(kp_canary_init);
module_exit(kp_canary_exit);
