//! What a transcript's header asks for around the module ([`ubx_transcript::header`]), started
//! on loopback, with the values of the placeholders they give. The test suite and
//! `ubxftp script` both run transcripts through this, so a transcript runs the same in both.

use std::net::IpAddr;

use ubx_transcript::{Header, Vars};

use crate::http::HttpServer;
use crate::mqtt::Mosquitto;
use crate::sockets::{TcpEcho, TlsEcho, UdpEcho};
use crate::{Error, Kind, RunningServer, ServerOptions};

/// An FTP server the transcript's `{ftp-*}` placeholders point at instead of one started here.
#[derive(Debug, Clone)]
pub struct ExternalFtp {
    pub ip: IpAddr,
    pub port: u16,
    pub user: String,
    pub password: String,
}

/// How to meet a header.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Point `{ftp-ip}`, `{ftp-port}`, `{ftp-user}` and `{ftp-password}` at this server, and
    /// start none for `# ftp-server:`.
    pub ftp: Option<ExternalFtp>,
    /// When the server `# ftp-server:` names is not installed, run the in-process libunftp
    /// instead and say so in [`Environment::notes`] (the test suite fails instead: a missing
    /// server is never a silent skip there).
    pub fallback_to_libunftp: bool,
}

/// The servers a header asked for, running until this is dropped.
#[derive(Default)]
pub struct Environment {
    /// The placeholders' values.
    pub vars: Vars,
    /// What was started, or used instead and why: one line each, for the user.
    pub notes: Vec<String>,
    ftp: Option<RunningServer>,
    _echo: Option<(TcpEcho, UdpEcho, TlsEcho)>,
    _http: Option<HttpServer>,
    _broker: Option<Mosquitto>,
}

impl Environment {
    /// Starts what `header` asks for.
    pub async fn start(header: &Header, options: &Options) -> Result<Environment, String> {
        let mut env = Environment::default();
        if let Some(ftp) = &options.ftp {
            env.set_ftp(ftp.ip, ftp.port, &ftp.user, &ftp.password);
            env.notes.push(format!(
                "ftp: {}:{} (--ftp), user {:?}",
                ftp.ip, ftp.port, ftp.user
            ));
        } else if let Some(name) = &header.ftp_server {
            env.start_ftp(name, options.fallback_to_libunftp).await?;
        }
        if header.socket_servers {
            env.start_echo().await?;
        }
        if header.http_server {
            let http = HttpServer::start()
                .await
                .map_err(|e| format!("`# http-server: files`: {e}"))?;
            http.put_file_with_type("/hello.txt", "text/plain", b"hello, module\n".to_vec());
            env.set("http-port", http.addr().port().to_string());
            env._http = Some(http);
        }
        if header.mqtt_broker {
            let broker = Mosquitto::start().await.map_err(|e| {
                format!(
                    "`# mqtt-broker: mosquitto`: {e} (there is no in-process broker: install \
                     mosquitto, as scripts/install-test-deps does)"
                )
            })?;
            env.set("mqtt-port", broker.addr().port().to_string());
            env._broker = Some(broker);
        }
        Ok(env)
    }

    fn set(&mut self, name: &str, value: String) {
        self.vars.insert(name.to_string(), value);
    }

    fn set_ftp(&mut self, ip: IpAddr, port: u16, user: &str, password: &str) {
        self.set("ftp-ip", ip.to_string());
        self.set("ftp-port", port.to_string());
        self.set("ftp-user", user.to_string());
        self.set("ftp-password", password.to_string());
    }

    /// `# ftp-server: KIND`: that server, or libunftp in its place when it is not installed
    /// and `fallback` allows it.
    async fn start_ftp(&mut self, name: &str, fallback: bool) -> Result<(), String> {
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| format!("`# ftp-server: {name}`: not a server test-servers knows"))?;
        let server = match crate::start(kind, ServerOptions::default()).await {
            Ok(server) => server,
            Err(Error::NotInstalled { what, path }) if fallback && kind != Kind::Libunftp => {
                self.notes.push(format!(
                    "ftp-server: {name} is not installed ({what} not found at {}): using the \
                     in-process libunftp instead (replies may differ from {name}'s)",
                    path.display()
                ));
                crate::start(Kind::Libunftp, ServerOptions::default())
                    .await
                    .map_err(|e| format!("`# ftp-server: libunftp`: {e}"))?
            }
            Err(e) => return Err(format!("`# ftp-server: {name}`: {e}")),
        };
        self.notes.push(format!(
            "ftp-server: {} on {}, user {:?}",
            server.kind, server.addr, server.user
        ));
        self.set_ftp(
            server.addr.ip(),
            server.addr.port(),
            &server.user,
            &server.password,
        );
        self.ftp = Some(server);
        Ok(())
    }

    /// `# socket-servers: echo`: TCP, UDP and TLS echo servers.
    async fn start_echo(&mut self) -> Result<(), String> {
        let failed = |e: std::io::Error| format!("`# socket-servers: echo`: {e}");
        let tcp = TcpEcho::start().await.map_err(failed)?;
        let udp = UdpEcho::start().await.map_err(failed)?;
        let tls = TlsEcho::start().await.map_err(failed)?;
        self.set("tcp-echo-port", tcp.addr().port().to_string());
        self.set("udp-echo-port", udp.addr().port().to_string());
        self.set("tls-echo-port", tls.addr().port().to_string());
        self._echo = Some((tcp, udp, tls));
        Ok(())
    }

    /// The FTP server started here, if any.
    pub fn ftp_server(&self) -> Option<&RunningServer> {
        self.ftp.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every server a header may name is one this crate starts.
    #[test]
    fn every_header_ftp_server_is_a_kind() {
        for name in ubx_transcript::header::FTP_SERVERS {
            assert!(Kind::ALL.iter().any(|k| k.name() == *name), "{name}");
        }
        assert_eq!(ubx_transcript::header::FTP_SERVERS.len(), Kind::ALL.len());
    }
}
