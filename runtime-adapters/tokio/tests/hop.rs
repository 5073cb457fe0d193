//! Awaiting a bridge task from a different runtime: tokio work from a smol-style application,
//! smol work from a tokio application. No "there is no reactor running" panics.

use std::time::Duration;

use loopbridge::Bridge;
use loopbridge_conformance::support::{bounded, thread_name};
use loopbridge_tokio::TokioRuntime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn a_smol_application_awaits_tokio_io_on_the_bridge() {
    bounded("smol awaits tokio", || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
        });
        let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
        // async-io's block_on: the application's executor knows nothing of tokio.
        let echoed = async_io::block_on(async {
            bridge
                .spawn(async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                    stream.write_all(b"ping").await.unwrap();
                    let mut back = [0u8; 4];
                    stream.read_exact(&mut back).await.unwrap();
                    back
                })
                .unwrap()
                .await
                .unwrap()
        });
        assert_eq!(&echoed, b"ping");
        echo.join().unwrap();
    });
}

#[test]
fn a_tokio_application_awaits_smol_timers_on_the_bridge() {
    bounded("tokio awaits smol", || {
        let bridge = Bridge::new();
        let app = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ran_on = app.block_on(async {
            bridge
                .spawn(async {
                    // async-io's timer, driven by the smol bridge, not by tokio.
                    async_io::Timer::after(Duration::from_millis(5)).await;
                    thread_name()
                })
                .unwrap()
                .await
                .unwrap()
        });
        assert!(ran_on.starts_with("loopbridge-smol"), "ran on {ran_on}");
    });
}
