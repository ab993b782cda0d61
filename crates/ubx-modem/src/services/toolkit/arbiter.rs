//! The module-wide direct-link rule. The FTP chapter: "only one direct link connection at a
//! time", counting FTP ops 6/7, `+USODL`, `+UHTTPC` 6/7, `+UMQTTC` 9, binary `+USOWR`, `+FREAD`
//! and `+ULSTFILE` op 0. A service holds the link through a [`DirectLink`] guard; the file
//! commands ask [`Arbiter::active`] and are refused while one is held.

use std::sync::{Arc, Mutex};

/// Who holds the module's direct link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// The service (`"ftp"`, later `"socket"`, `"http"`, `"mqtt"`).
    pub service: &'static str,
    /// Its op code (FTP 6 or 7).
    pub op: i64,
}

/// The one direct link of a module.
#[derive(Debug, Default, Clone)]
pub struct Arbiter {
    holder: Arc<Mutex<Option<Holder>>>,
}

/// The direct link, held until dropped (a panic included).
#[derive(Debug)]
pub struct DirectLink {
    holder: Arc<Mutex<Option<Holder>>>,
}

/// Another direct link is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken(pub Holder);

impl Arbiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Holder>> {
        self.holder.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the direct link for `holder`, unless another holds it.
    pub fn claim(&self, holder: Holder) -> Result<DirectLink, Taken> {
        let mut current = self.lock();
        if let Some(other) = *current {
            return Err(Taken(other));
        }
        *current = Some(holder);
        Ok(DirectLink {
            holder: self.holder.clone(),
        })
    }

    /// Who holds the direct link now.
    pub fn active(&self) -> Option<Holder> {
        *self.lock()
    }
}

impl Drop for DirectLink {
    fn drop(&mut self) {
        *self.holder.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_across_services_until_dropped() {
        let arbiter = Arbiter::default();
        let ftp = Holder {
            service: "ftp",
            op: 6,
        };
        let held = arbiter.claim(ftp).expect("free");
        assert_eq!(arbiter.active(), Some(ftp));
        let socket = Holder {
            service: "socket",
            op: 0,
        };
        assert_eq!(arbiter.claim(socket).unwrap_err(), Taken(ftp));
        drop(held);
        assert_eq!(arbiter.active(), None);
        assert!(arbiter.claim(socket).is_ok());
    }
}
