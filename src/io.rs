//! `std::io` over async I/O: [`Bridge::reader`] and [`Bridge::writer`].

use std::{
    fmt,
    future::Future,
    io::{self, BufRead, Read, Write},
    time::Duration,
};

use futures_lite::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{
    bridge::Bridge,
    context::lifecycle,
    error::BridgeError,
    shelf::{Loan, Shelf, Unavailable},
    sync::Arc,
};

/// The buffer of a [`BlockingReader`] unless [`with_capacity`](BlockingReader::with_capacity)
/// says otherwise: what `std::io::BufReader` uses.
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// A [`Read`] and [`BufRead`] over an [`AsyncRead`] that runs on the bridge's runtime.
///
/// Made by [`Bridge::reader`]. Each read that finds the buffer empty is one call on the
/// bridge: the async reader fills the buffer on the runtime (up to its capacity, 8 KiB by
/// default), and the bytes are handed out from there, so small reads cost no call. The
/// async reader is used only on the runtime and dropped there.
///
/// # Timeouts and errors
///
/// [`set_timeout`](BlockingReader::set_timeout) bounds each operation, as a socket's read
/// timeout does: at the deadline the read fails with [`io::ErrorKind::TimedOut`], the read in
/// progress is cancelled on the runtime, and the reader stays usable; the next read goes on
/// from there. Errors of the async reader come back as they are. Errors of the bridge (a
/// timeout, a shutdown, a retired runtime) are `io::Error`s that carry the [`BridgeError`]:
/// [`BridgeError::from_io`] finds it.
///
/// # Examples
///
/// ```
/// use std::io::{BufRead, Read};
///
/// let bridge = loopbridge::Bridge::new();
/// let body = futures_lite::io::Cursor::new(b"first line\nsecond line\n".to_vec());
/// let mut reader = bridge.reader(body);
///
/// let mut first = String::new();
/// reader.read_line(&mut first)?;
/// assert_eq!(first, "first line\n");
///
/// let mut rest = String::new();
/// reader.read_to_string(&mut rest)?;
/// assert_eq!(rest, "second line\n");
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "a reader does nothing unless read from; dropping it drops the async reader"]
pub struct BlockingReader<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    bridge: Bridge,
    shelf: Arc<Shelf<R>>,
    /// Holds `capacity` bytes once allocated; empty while a read has it on the runtime, or
    /// after a read that timed out kept it.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    capacity: usize,
    timeout: Option<Duration>,
}

/// A [`Write`] over an [`AsyncWrite`] that runs on the bridge's runtime.
///
/// Made by [`Bridge::writer`]. Each `write` and `flush` is one call on the bridge, so wrap
/// the writer in a [`std::io::BufWriter`] for many small writes. The async writer is used
/// only on the runtime.
///
/// # Closing
///
/// [`close`](BlockingWriter::close) flushes and closes the async writer on the runtime
/// (`AsyncWriteExt::close`: for a socket, a shutdown of its write half) and returns any error,
/// the peer's included. Call it: `Drop` cannot return an error. A writer dropped without
/// `close` is closed in the background on the runtime, without waiting, and dropped there; an
/// error from that close is logged as a `tracing` warning (with the `tracing` feature) and
/// otherwise lost. After a shutdown of the bridge there is no runtime left, and a dropped
/// writer is dropped on the dropping thread without a close.
///
/// # Timeouts and errors
///
/// As for [`BlockingReader`]: [`set_timeout`](BlockingWriter::set_timeout) bounds each
/// operation, a timeout is [`io::ErrorKind::TimedOut`] and leaves the writer usable (whether
/// the bytes of a timed-out write went out is not known, as with a socket), and errors of the
/// bridge carry the [`BridgeError`].
///
/// # Examples
///
/// ```
/// use std::io::Write;
///
/// let bridge = loopbridge::Bridge::new();
/// let mut writer = bridge.writer(futures_lite::io::Cursor::new(Vec::new()));
/// writer.write_all(b"hello")?;
/// writer.flush()?;
/// writer.close()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "a writer does nothing unless written to; call `close` to get its last error"]
pub struct BlockingWriter<W>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    bridge: Bridge,
    shelf: Arc<Shelf<W>>,
    /// The last write's buffer, for the next.
    spare: Vec<u8>,
    timeout: Option<Duration>,
    closed: bool,
}

impl Bridge {
    /// A blocking [`Read`] and [`BufRead`] over `reader`, an async reader that runs on the
    /// bridge's runtime (see [`BlockingReader`]). For tokio's `AsyncRead`, see
    /// `loopbridge_tokio::reader`.
    ///
    /// ```
    /// use std::io::Read;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let mut reader = bridge.reader(futures_lite::io::Cursor::new(vec![1, 2, 3]));
    /// let mut bytes = Vec::new();
    /// reader.read_to_end(&mut bytes)?;
    /// assert_eq!(bytes, [1, 2, 3]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reader<R>(&self, reader: R) -> BlockingReader<R>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        BlockingReader {
            bridge: self.clone(),
            shelf: Shelf::new(reader),
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            capacity: DEFAULT_CAPACITY,
            timeout: None,
        }
    }

    /// A blocking [`Write`] over `writer`, an async writer that runs on the bridge's runtime
    /// (see [`BlockingWriter`], and call [`close`](BlockingWriter::close) when done). For
    /// tokio's `AsyncWrite`, see `loopbridge_tokio::writer`.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let mut writer = bridge.writer(futures_lite::io::sink());
    /// writer.write_all(b"gone")?;
    /// writer.close()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn writer<W>(&self, writer: W) -> BlockingWriter<W>
    where
        W: AsyncWrite + Send + Unpin + 'static,
    {
        BlockingWriter {
            bridge: self.clone(),
            shelf: Shelf::new(writer),
            spare: Vec::new(),
            timeout: None,
            closed: false,
        }
    }
}

/// Runs `operation` on the bridge, within `timeout`; a bridge error becomes an `io::Error`
/// that carries it.
fn run<T, F>(bridge: &Bridge, timeout: Option<Duration>, operation: F) -> io::Result<T>
where
    F: Future<Output = io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    match timeout {
        None => bridge.call(operation),
        Some(timeout) => bridge.call_timeout(operation, timeout),
    }
    .map_err(io::Error::from)?
}

/// Borrows the async reader or writer on the runtime for one operation.
async fn lend<T: Send + 'static>(shelf: &Arc<Shelf<T>>, what: &str) -> io::Result<Loan<T>> {
    shelf.lend().await.map_err(|unavailable| match unavailable {
        Unavailable::Gone => io::Error::other(format!(
            "the async {what} was lost: an earlier operation on it panicked"
        )),
        Unavailable::Stuck => BridgeError::Retired.into(),
    })
}

impl<R> BlockingReader<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    /// Sets the deadline of each read from now on; `None` (the default) waits as long as the
    /// async reader takes.
    ///
    /// ```
    /// use std::{io::Read, pin::Pin, task::{Context, Poll}, time::Duration};
    ///
    /// /// A peer that never sends anything.
    /// struct Silent;
    ///
    /// impl futures_lite::io::AsyncRead for Silent {
    ///     fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: &mut [u8]) -> Poll<std::io::Result<usize>> {
    ///         Poll::Pending
    ///     }
    /// }
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let mut reader = bridge.reader(Silent);
    /// reader.set_timeout(Some(Duration::from_millis(20)));
    /// let err = reader.read(&mut [0; 8]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The deadline of each read (see [`set_timeout`](Self::set_timeout)).
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Uses a buffer of `capacity` bytes (at least 1) from the next read that needs the
    /// runtime on: how much one call reads at most.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let reader = bridge
    ///     .reader(futures_lite::io::Cursor::new(vec![0; 1 << 20]))
    ///     .with_capacity(64 * 1024);
    /// # drop(reader);
    /// ```
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }
}

impl<R> Read for BlockingReader<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R> BufRead for BlockingReader<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            let mut chunk = std::mem::take(&mut self.buf);
            chunk.resize(self.capacity, 0);
            self.pos = 0;
            self.filled = 0;
            let shelf = self.shelf.clone();
            let (chunk, n) = run(&self.bridge, self.timeout, async move {
                let mut loan = lend(&shelf, "reader").await?;
                let n = loan.get().read(&mut chunk).await?;
                Ok((chunk, n))
            })?;
            self.buf = chunk;
            self.filled = n;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.filled);
    }
}

impl<R> Drop for BlockingReader<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    /// Drops the async reader on the runtime, without waiting.
    fn drop(&mut self) {
        self.shelf.drop_on(&self.bridge);
    }
}

impl<R> fmt::Debug for BlockingReader<R>
where
    R: AsyncRead + Send + Unpin + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingReader")
            .field("reader", &std::any::type_name::<R>())
            .field("buffered", &(self.filled - self.pos))
            .field("capacity", &self.capacity)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<W> BlockingWriter<W>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    /// Sets the deadline of each operation from now on, `close` included; `None` (the
    /// default) waits as long as the async writer takes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let mut writer = bridge.writer(futures_lite::io::sink());
    /// writer.set_timeout(Some(Duration::from_secs(5)));
    /// assert_eq!(writer.timeout(), Some(Duration::from_secs(5)));
    /// ```
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The deadline of each operation (see [`set_timeout`](Self::set_timeout)).
    #[must_use]
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Flushes and closes the async writer on the runtime, drops it there, and returns the
    /// first error: the way to learn that the last bytes did not make it (see
    /// [`BlockingWriter`]).
    ///
    /// # Errors
    ///
    /// An error of the flush or the close, the peer's included; a timeout
    /// ([`io::ErrorKind::TimedOut`]) or another error of the bridge.
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let mut writer = bridge.writer(futures_lite::io::Cursor::new(Vec::new()));
    /// writer.write_all(b"done")?;
    /// writer.close()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(mut self) -> io::Result<()> {
        self.closed = true;
        let shelf = self.shelf.clone();
        run(&self.bridge, self.timeout, async move {
            let mut loan = lend(&shelf, "writer").await?;
            let closed = loan.get().close().await;
            drop(loan.finish());
            closed
        })
    }
}

impl<W> Write for BlockingWriter<W>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut data = std::mem::take(&mut self.spare);
        data.clear();
        data.extend_from_slice(buf);
        let shelf = self.shelf.clone();
        let (data, n) = run(&self.bridge, self.timeout, async move {
            let mut loan = lend(&shelf, "writer").await?;
            let n = loan.get().write(&data).await?;
            Ok((data, n))
        })?;
        self.spare = data;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let shelf = self.shelf.clone();
        run(&self.bridge, self.timeout, async move {
            lend(&shelf, "writer").await?.get().flush().await
        })
    }
}

impl<W> Drop for BlockingWriter<W>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    /// Closes the async writer on the runtime in the background, unless `close` was called,
    /// and drops it there (see [`BlockingWriter`]).
    fn drop(&mut self) {
        let Some(mut writer) = self.shelf.abandon() else {
            return;
        };
        let close = !self.closed;
        let spawned = self.bridge.spawn(async move {
            if close {
                if let Err(err) = writer.close().await {
                    let _ = &err;
                    lifecycle!(
                        warn,
                        error = %err,
                        "a BlockingWriter dropped without close() failed to close; \
                         call close() to get this error"
                    );
                }
            }
            drop(writer);
        });
        if let Ok(task) = spawned {
            task.detach();
        }
    }
}

impl<W> fmt::Debug for BlockingWriter<W>
where
    W: AsyncWrite + Send + Unpin + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingWriter")
            .field("writer", &std::any::type_name::<W>())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
