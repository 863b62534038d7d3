//! The canary sources, embedded in the binary (so the CLI, the Lambda image and the Action carry
//! them): a kernel module (`canary/module/`) and an eBPF object (`canary/ebpf/`), both kbuild
//! external-module directories.

use std::path::Path;

use anyhow::Context;

/// Files of the canary module: kprobe, tracepoint probe, netfilter hook, procfs seq_file,
/// workqueue, and a sweep of common headers.
pub const MODULE: &[(&str, &str)] = &[
    ("Makefile", include_str!("../../canary/module/Makefile")),
    (
        "kp_canary.c",
        include_str!("../../canary/module/kp_canary.c"),
    ),
];

/// Object file the module build produces.
pub const MODULE_OBJECT: &str = "kp_canary.ko";

/// Files of the canary eBPF object (clang → LLVM IR → `llc -march=bpf`, flags from kbuild).
pub const EBPF: &[(&str, &str)] = &[
    ("Makefile", include_str!("../../canary/ebpf/Makefile")),
    (
        "kp_canary_bpf.c",
        include_str!("../../canary/ebpf/kp_canary_bpf.c"),
    ),
];

/// Object file the eBPF build produces.
pub const EBPF_OBJECT: &str = "kp_canary_bpf.o";

/// Writes `files` into the new directory `dir`.
pub fn write(files: &[(&str, &str)], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir(dir).with_context(|| format!("create {}", dir.display()))?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}
