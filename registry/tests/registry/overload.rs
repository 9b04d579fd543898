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
    // Generous for a machine busy with other tests; the old server answered none at all.
    let c = client_with_timeout(Duration::from_secs(5));
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

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Opens an event stream from `from` with an optional token; returns the status and the
/// open connection.
async fn open_stream(from: [u8; 4], port: u16, token: Option<&str>) -> (u16, TcpStream) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(from), 0).into())
        .unwrap();
    let mut s = socket
        .connect((std::net::Ipv4Addr::LOCALHOST, port).into())
        .await
        .unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    s.write_all(format!("GET /api/v1/watch/registry HTTP/1.1\r\nHost: r\r\n{auth}\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 12];
    s.read_exact(&mut head).await.unwrap();
    let status = std::str::from_utf8(&head[9..12]).unwrap().parse().unwrap();
    (status, s)
}

#[tokio::test]
async fn anonymous_watchers_leave_room_for_tokens_and_memory_returns() {
    let dir = TempDir::new("watchers");
    let server = Server::start(
        dir.path(),
        &[
            "--max-watchers",
            "200",
            "--watcher-reserve",
            "20",
            "--max-watchers-per-client",
            "4",
        ],
    );
    let c = client();
    // A list of ~100 KB, which every event stream is sent first.
    let body = IDEA_LAB_BODY.replace("Friendly", &"x".repeat(200));
    for i in 0..300 {
        let r = register(&c, &server.url, &format!("w{i}"), &body).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(server.pid());

    // 60 addresses try 5 streams each: 4 each are allowed, 180 in all (200 minus the
    // reserve), the rest are refused.
    let attempts = (0..300u32).map(|i| {
        let from = [127, 0, 1 + (i / 5 / 50) as u8, 2 + (i / 5 % 50) as u8];
        open_stream(from, server.port, None)
    });
    let opened = futures_util::future::join_all(attempts).await;
    let ok = opened.iter().filter(|(s, _)| *s == 200).count();
    let refused = opened.iter().filter(|(s, _)| *s == 503).count();
    assert_eq!((ok, refused), (180, 120));
    // The anonymous share is full; a token still gets a stream, and an anonymous newcomer
    // does not.
    let (anon, _) = open_stream([127, 0, 9, 9], server.port, None).await;
    assert_eq!(anon, 503);
    let (admin, admin_stream) = open_stream([127, 0, 0, 1], server.port, Some(ADMIN)).await;
    assert_eq!(admin, 200, "the reserve is for callers with a token");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = rss_kib(server.pid());

    drop(opened);
    drop(admin_stream);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(server.pid());
    println!(
        "RSS with 181 event streams of a 100 KB list: before {before} KiB, during {during} KiB, 2 s after they closed {after} KiB"
    );
    assert!(
        after <= before + (during - before) / 2,
        "memory stays up after the watchers left: before {before}, during {during}, after {after} KiB"
    );
    // Every slot is free again.
    let (again, _) = open_stream([127, 0, 1, 2], server.port, None).await;
    assert_eq!(again, 200);
}
