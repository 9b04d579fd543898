//! Hostile load through real sockets: clients that never finish their headers
//! (slowloris), a server at a low open-file limit, and anonymous clients taking every
//! watcher slot. Each case is bounded: a few hundred connections, a few seconds.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::harness::*;

/// Opens a connection from `from` (any 127.0.0.0/8 address is this host) and sends the
/// start of a request that never ends.
async fn slow_client(from: [u8; 4], port: u16) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind((std::net::Ipv4Addr::from(from), 0).into())?;
    let mut s = socket
        .connect((std::net::Ipv4Addr::LOCALHOST, port).into())
        .await?;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: registry\r\nX-Slow: ")
        .await?;
    Ok(s)
}

/// Reads until the server closes the connection.
async fn until_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let dir = TempDir::new("header-timeout");
    let server = Server::start(dir.path(), &["--header-read-timeout", "1s"]);
    let started = Instant::now();
    let mut slow = slow_client([127, 0, 0, 1], server.port).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), until_closed(&mut slow))
        .await
        .expect("the server closes a connection whose headers never end");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    // An idle keep-alive connection is closed the same way.
    let mut idle = TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: registry\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), until_closed(&mut idle))
        .await
        .expect("an idle keep-alive connection is closed");
}

#[tokio::test]
async fn slowloris_at_a_low_file_limit_leaves_room_for_normal_requests() {
    let dir = TempDir::new("slowloris");
    // 128 descriptors: the server keeps 96 connections, at most 48 per client, and 400
    // slow connections from another address (127.0.0.2) ask for more.
    let server = Server::start_with_file_limit(dir.path(), &[], 128);
    let port = server.port;
    let attack = tokio::spawn(async move {
        let clients = (0..400).map(|_| async move {
            // Each slow client reconnects as soon as it is cut off, for the whole test.
            loop {
                match slow_client([127, 0, 0, 2], port).await {
                    Ok(mut s) => until_closed(&mut s).await,
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
        futures_util::future::join_all(clients).await;
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = client_with_timeout(Duration::from_secs(2));
    let mut slowest = Duration::ZERO;
    for i in 0..30 {
        let started = Instant::now();
        let r = c.get(format!("{}/health", server.url)).send().await;
        let status = r.map(|r| r.status());
        assert!(
            matches!(status, Ok(StatusCode::OK)),
            "GET {i} under slowloris: {status:?}\n{}",
            server.log()
        );
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    attack.abort();
    println!("slowest GET under 400 slowloris clients at ulimit -n 128: {slowest:?}");
    let log = server.log();
    assert!(log.contains("--max-connections lowered"), "{log}");
}
