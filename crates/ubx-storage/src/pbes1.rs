//! PBES1 with MD5 and DES-CBC (`pbeWithMD5AndDES-CBC`, OID 1.2.840.113549.1.5.3; RFC 8018
//! §6.1): the encryption of the PKCS#8 keys that `openssl pkcs8 -topk8 -v1 PBE-MD5-DES` writes,
//! and of the key ubxlib's credential test imports into a SARA-R5
//! (`common/security/test/u_security_credential_test_data.c`, `gUSecurityCredentialTestKey1024Pkcs8Pem`).
//!
//! RustCrypto's `pkcs5` parses these parameters (salt, iteration count) but will not decrypt
//! them. This is the short layer that does, over the `md-5`, `des` and `cbc` crates:
//!
//! 1. **PBKDF1 with MD5** (RFC 8018 §5.1): `T = MD5(password ‖ salt)`, then `T = MD5(T)` until
//!    MD5 has run `c` times, `c` the iteration count (at least 1; `pkcs5` reads it as a `u16`,
//!    so at most 65 535 rounds: no key can make this expensive);
//! 2. the DES key is `T[0..8]`, the CBC initialisation vector `T[8..16]` (§6.1.2 step 3);
//! 3. **DES-CBC** decryption of the encrypted data, which must be a whole number of 8-byte
//!    blocks;
//! 4. the **PKCS#7 padding check** (§6.1.2 step 4): the last byte `n` is 1 to 8 and the last `n`
//!    bytes all equal `n`; they are removed.
//!
//! A wrong password almost always fails step 4; about one time in 256 it passes with junk, which
//! the caller finds when the result does not parse as a key. DES is broken: this exists to read
//! keys made that way, never to make them.

use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use md5::{Digest, Md5};

/// The DES block (and key, and IV) size.
const BLOCK: usize = 8;

/// Decrypts PBES1 `pbeWithMD5AndDES-CBC` data; `None` when the iteration count is 0, the data is
/// not whole blocks, or the padding is wrong (a wrong password).
pub(crate) fn decrypt_md5_des(
    password: &[u8],
    salt: &[u8; 8],
    iterations: u16,
    data: &[u8],
) -> Option<Vec<u8>> {
    if iterations == 0 || data.is_empty() || !data.len().is_multiple_of(BLOCK) {
        return None;
    }
    let derived = pbkdf1_md5(password, salt, iterations);
    let (key, iv) = derived.split_at(BLOCK);
    let mut buffer = data.to_vec();
    let plain = cbc::Decryptor::<des::Des>::new_from_slices(key, iv)
        .ok()?
        .decrypt_padded_mut::<Pkcs7>(&mut buffer)
        .ok()?
        .len();
    buffer.truncate(plain);
    Some(buffer)
}

/// PBKDF1 with MD5: MD5 applied `iterations` times to `password ‖ salt` (RFC 8018 §5.1); the
/// 16 bytes are the DES key and the IV.
fn pbkdf1_md5(password: &[u8], salt: &[u8; 8], iterations: u16) -> [u8; 16] {
    let mut t: [u8; 16] = Md5::new()
        .chain_update(password)
        .chain_update(salt)
        .finalize()
        .into();
    for _ in 1..iterations {
        t = Md5::digest(t).into();
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// One round is plain MD5 of password and salt: `printf passwordsaltsalt | md5sum`.
    #[test]
    fn one_round_is_md5_of_password_and_salt() {
        assert_eq!(
            pbkdf1_md5(b"password", b"saltsalt", 1).to_vec(),
            hex("fdbdf3419fff98bdb0241390f62a9db3")
        );
    }

    #[test]
    fn each_round_hashes_the_last() {
        let once = pbkdf1_md5(b"pw", b"12345678", 1);
        let twice: [u8; 16] = Md5::digest(once).into();
        assert_eq!(pbkdf1_md5(b"pw", b"12345678", 2), twice);
    }

    #[test]
    fn malformed_data_is_refused_without_work() {
        let salt = [0u8; 8];
        assert_eq!(decrypt_md5_des(b"pw", &salt, 0, &[0; 16]), None);
        assert_eq!(decrypt_md5_des(b"pw", &salt, 1, &[]), None);
        assert_eq!(decrypt_md5_des(b"pw", &salt, 1, &[0; 12]), None);
    }
}
