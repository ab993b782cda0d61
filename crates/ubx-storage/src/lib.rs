//! # ubx-storage — the module's non-volatile memory
//!
//! What a module keeps when it is switched off, in a folder on the host:
//!
//! | file | what |
//! |---|---|
//! | [`fs`] | the module file system ([`fs::ModuleFs`]): user files, the hidden FOTA area, names, capacity |
//! | [`spool`] | the one way an internet service writes a response into a module file, chunk by chunk on blocking threads |
//! | [`certs`] | the certificate and key store of `+USECMNG`, hidden beside the files |
//! | `pbes1` | the decryption of PBES1 (`pbeWithMD5AndDES-CBC`) keys the store imports |
//!
//! No AT here: the command families of ubx-modem parse the commands and call into these types.

pub mod certs;
pub mod fs;
mod pbes1;
pub mod spool;
