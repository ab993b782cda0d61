//! Shared raw-FTP helpers for the integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use test_servers::RunningServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

pub const T: Duration = Duration::from_secs(15);

/// A minimal raw control connection.
pub struct Control {
    pub reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    pub writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Control {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = timeout(T, TcpStream::connect(addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        let (r, w) = stream.into_split();
        Control {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// Read one complete reply; returns (code, full text).
    pub async fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            let n = timeout(T, self.reader.read_line(&mut line))
                .await
                .expect("reply timeout")
                .expect("read");
            assert!(n > 0, "connection closed; got so far: {text:?}");
            text.push_str(&line);
            let b = line.as_bytes();
            if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                let code = line[..3].parse().expect("code");
                return (code, text);
            }
        }
    }

    pub async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.reply().await
    }

    pub async fn expect(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.cmd(line).await;
        let shown = if line.starts_with("PASS") {
            "PASS ****"
        } else {
            line
        };
        assert_eq!(got, code, "{shown} -> {text:?}");
        text
    }

    pub async fn login(&mut self, server: &RunningServer) {
        let (code, text) = self.reply().await;
        assert_eq!(code, 220, "greeting {text:?}");
        let (code, text) = self.cmd(&format!("USER {}", server.user)).await;
        match code {
            331 => {
                self.expect(&format!("PASS {}", server.password), 230).await;
            }
            230 => {}
            _ => panic!("USER -> {text:?}"),
        }
    }
}
