//! `ubxftp ftp-server`: a real FTP server for tests that run the binary (the pytest plugin's
//! `ubx_ftp_server`): it prints its address, login and folder, serves the folder, and removes
//! it when stopped.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use support::Server;

/// Reads one FTP reply line.
fn reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn it_prints_its_login_serves_its_folder_and_removes_it_at_sigterm() {
    let mut server = Server::start_with("ftp-server", &[], 4);
    let addr = server.line_with("ftp://");
    let user = server.line_with("user: ");
    let password = server.line_with("password: ");
    let folder = PathBuf::from(server.line_with("folder: "));
    assert!(folder.is_dir(), "{folder:?}");
    std::fs::write(folder.join("hello.txt"), b"hi\n").unwrap();

    let stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    assert!(reply(&mut reader).starts_with("220"));
    writer
        .write_all(format!("USER {user}\r\n").as_bytes())
        .unwrap();
    assert!(reply(&mut reader).starts_with("331"));
    writer
        .write_all(format!("PASS {password}\r\n").as_bytes())
        .unwrap();
    assert!(reply(&mut reader).starts_with("230"));
    writer.write_all(b"SIZE hello.txt\r\n").unwrap();
    assert_eq!(reply(&mut reader).trim_end(), "213 3");
    writer.write_all(b"QUIT\r\n").unwrap();
    assert!(reply(&mut reader).starts_with("221"));

    let pid = nix::unistd::Pid::from_raw(server.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(!folder.exists(), "{folder:?} is left behind");
}
