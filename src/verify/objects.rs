//! Checks on build products, read in process: the `vermagic` of a `.ko` and the machine of an
//! ELF object.

/// `vermagic=` value of a module's `.modinfo` (the first NUL-terminated occurrence).
pub fn vermagic(ko: &[u8]) -> Option<String> {
    const KEY: &[u8] = b"vermagic=";
    let start = ko.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = ko[start..].iter().position(|&b| b == 0)?;
    Some(String::from_utf8_lossy(&ko[start..start + len]).into_owned())
}

/// ELF machine number of eBPF objects.
pub const EM_BPF: u16 = 247;

/// `e_machine` of a 64-bit little- or big-endian ELF file; `None` when it is not ELF64.
pub fn elf_machine(obj: &[u8]) -> Option<u16> {
    if obj.len() < 20 || &obj[..4] != b"\x7fELF" || obj[4] != 2 {
        return None;
    }
    let bytes = [obj[18], obj[19]];
    Some(match obj[5] {
        1 => u16::from_le_bytes(bytes),
        2 => u16::from_be_bytes(bytes),
        _ => return None,
    })
}

/// The first compiler or kbuild error of a build log, on one line (at most 400 chars), with up to
/// two indented continuation lines (kbuild's multi-line `ERROR:` messages); the last non-empty
/// line when none is recognised.
pub fn first_error(log: &str) -> String {
    let is_error = |l: &str| {
        l.contains("error:")
            || l.contains("Error:")
            || l.trim_start().starts_with("ERROR:")
            || l.contains("*** ")
    };
    let lines: Vec<&str> = log.lines().collect();
    let text = match lines.iter().position(|l| is_error(l)) {
        Some(i) => {
            let mut parts = vec![lines[i].trim()];
            let indent = lines[i].len() - lines[i].trim_start().len();
            for next in lines[i + 1..].iter().take(2) {
                let next_indent = next.len() - next.trim_start().len();
                if next.trim().is_empty() || next_indent <= indent || is_error(next) {
                    break;
                }
                parts.push(next.trim());
            }
            parts.join(" ")
        }
        None => lines
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| "no output".into()),
    };
    text.chars().take(400).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vermagic_is_read_from_modinfo_bytes() {
        let ko = b"\x7fELF....license=GPL\0vermagic=6.1.0-57-amd64 SMP preempt mod_unload modversions \0name=x\0";
        assert_eq!(
            vermagic(ko).as_deref(),
            Some("6.1.0-57-amd64 SMP preempt mod_unload modversions ")
        );
        assert_eq!(vermagic(b"nothing"), None);
    }

    #[test]
    fn elf_machine_reads_both_endians() {
        let mut obj = vec![0u8; 64];
        obj[..4].copy_from_slice(b"\x7fELF");
        obj[4] = 2;
        obj[5] = 1;
        obj[18] = 247;
        assert_eq!(elf_machine(&obj), Some(EM_BPF));
        obj[5] = 2;
        obj[18] = 0;
        obj[19] = 247;
        assert_eq!(elf_machine(&obj), Some(EM_BPF));
        assert_eq!(elf_machine(b"\x7fELF"), None);
    }

    #[test]
    fn first_error_prefers_compiler_errors() {
        let log = "  CC [M]  /m/x.o\n/k/include/linux/kconfig.h:5:10: fatal error: generated/autoconf.h: No such file or directory\nmake[1]: *** [x] Error 1\n";
        assert!(first_error(log).contains("autoconf.h"));
        assert_eq!(first_error("a\nlast line\n\n"), "last line");
        let kbuild = "make: Entering\n  ERROR: Kernel configuration is invalid.\n         include/generated/autoconf.h or include/config/auto.conf are missing.\n         Run 'make oldconfig && make prepare' on kernel src to fix it.\n\nmake: *** [Makefile:1] Error 1\n";
        let e = first_error(kbuild);
        assert!(
            e.starts_with("ERROR: Kernel configuration is invalid. include/generated/autoconf.h"),
            "{e}"
        );
    }
}
