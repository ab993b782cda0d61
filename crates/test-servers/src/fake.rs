//! Scripted fake FTP server (todo).
