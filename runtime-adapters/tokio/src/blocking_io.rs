//! tokio's `AsyncRead` and `AsyncWrite` as blocking `std::io`, over the bridge.

use loopbridge::{BlockingReader, BlockingWriter, Bridge};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};

/// A blocking [`Read`](std::io::Read) and [`BufRead`](std::io::BufRead) over a tokio
/// [`AsyncRead`] (a `TcpStream`, a response body through `tokio_util::io::StreamReader`), used
/// only on the bridge's runtime: [`Bridge::reader`] for tokio's I/O traits.
///
/// Everything [`BlockingReader`] says holds: per-operation timeouts that leave the reader
/// usable, bridge errors as `io::Error`s, the reader dropped on the runtime. Use it with a
/// bridge on a [`TokioRuntime`](crate::TokioRuntime), whose reactor the reader needs; no
/// `Handle::block_on` is involved.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use loopbridge::Bridge;
/// use loopbridge_tokio::TokioRuntime;
///
/// let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
/// let mut reader = loopbridge_tokio::reader(&bridge, &b"tokio bytes"[..]);
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "tokio bytes");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn reader<R>(bridge: &Bridge, reader: R) -> BlockingReader<Compat<R>>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    bridge.reader(reader.compat())
}

/// A blocking [`Write`](std::io::Write) over a tokio [`AsyncWrite`], used only on the bridge's
/// runtime: [`Bridge::writer`] for tokio's I/O traits. Its
/// [`close`](BlockingWriter::close) flushes and then shuts the writer down
/// (`AsyncWriteExt::shutdown`), and returns the error.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use loopbridge::Bridge;
/// use loopbridge_tokio::TokioRuntime;
///
/// let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
/// let mut writer = loopbridge_tokio::writer(&bridge, tokio::io::sink());
/// writer.write_all(b"into the sink")?;
/// writer.close()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn writer<W>(bridge: &Bridge, writer: W) -> BlockingWriter<Compat<W>>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    bridge.writer(writer.compat_write())
}
