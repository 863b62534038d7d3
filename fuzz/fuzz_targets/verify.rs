//! OpenPGP: keyrings, cleartext-signed (`InRelease`) and detached signatures, checked against the
//! shipped Debian archive keyring; the first byte selects which.
#![no_main]

use std::sync::OnceLock;

use kernel_packer::crawl::verify::{strip_cleartext, Keyring};
use libfuzzer_sys::fuzz_target;

fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let bytes = include_bytes!("../../kernel-package-lists/keys/debian-archive-keyring.gpg");
        Keyring::from_bytes(bytes, "debian-archive-keyring.gpg").expect("shipped keyring")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            let _ = Keyring::from_bytes(rest, "fuzz");
        }
        1 => {
            if let Ok(text) = std::str::from_utf8(rest) {
                let _ = keyring().verify_cleartext(text, "fuzz");
                let _ = strip_cleartext(text, "fuzz");
            }
        }
        _ => {
            let split = rest.len() / 2;
            let _ = keyring().verify_detached(&rest[..split], &rest[split..], "fuzz");
        }
    }
});
