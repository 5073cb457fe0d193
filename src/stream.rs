//! Blocking iterators over streams: [`Bridge::iter`] and [`BlockingStream`].

use std::{fmt, iter::FusedIterator, pin::Pin, time::Duration};

use futures_lite::{Stream, StreamExt};

use crate::{
    bridge::Bridge,
    error::BridgeError,
    shelf::{Shelf, Unavailable},
    sync::Arc,
};

/// A blocking [`Iterator`] over a [`Stream`] that is polled on the bridge's runtime.
///
/// Made by [`Bridge::iter`]. Each [`next`](Iterator::next) blocks until the stream yields its
/// next item, which it polls for on the runtime; a paginated listing, a streamed response
/// body, a cursor over query results read from sync code. The iterator yields
/// `Ok(item)` for each item of the stream and ends when the stream does; a call that fails
/// on the bridge's side yields `Err(BridgeError)`. After [`BridgeError::Shutdown`] it ends.
///
/// - **On the runtime only.** The stream is polled only on the runtime, and dropping the
///   iterator drops the stream there too, inside its context (unless the bridge is shut down:
///   there is no runtime left then, and it is dropped on the dropping thread).
/// - **Deadlines.** [`next_timeout`](BlockingStream::next_timeout) gives up at a deadline and
///   leaves the stream in place: the next call goes on where it left off, as a socket's read
///   timeout does. (What a stream loses when the future that polls it is dropped, it loses:
///   `StreamExt::next` loses nothing.)
/// - **No read-ahead.** The stream is polled only while a call asks for an item, so a slow
///   consumer holds back the producer, and no item is read that nobody asked for.
/// - **Panics** in the stream are re-raised on the caller; the stream is dropped and the
///   iterator ends.
///
/// # Examples
///
/// ```
/// use futures_lite::StreamExt;
/// use loopbridge::Bridge;
///
/// let bridge = Bridge::new();
/// let pages = futures_lite::stream::iter(1..=3).then(|page| async move {
///     // Fetching a page would go here.
///     format!("page {page}")
/// });
/// let all: Vec<String> = bridge.iter(pages).collect::<Result<_, _>>()?;
/// assert_eq!(all, ["page 1", "page 2", "page 3"]);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct BlockingStream<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    bridge: Bridge,
    shelf: Arc<Shelf<Pin<Box<S>>>>,
    ended: bool,
}

impl Bridge {
    /// A blocking iterator over `stream`, polled on the bridge's runtime (see
    /// [`BlockingStream`]). Nothing runs until the first item is asked for.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let mut numbers = bridge.iter(futures_lite::stream::iter([1, 2]));
    /// assert_eq!(numbers.next().transpose()?, Some(1));
    /// assert_eq!(numbers.next().transpose()?, Some(2));
    /// assert_eq!(numbers.next().transpose()?, None);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn iter<S>(&self, stream: S) -> BlockingStream<S>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
    {
        BlockingStream {
            bridge: self.clone(),
            shelf: Shelf::new(Box::pin(stream)),
            ended: false,
        }
    }
}

impl<S> BlockingStream<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    /// The next item, waiting for it until `timeout` at most: `Ok(Some(item))`, or `Ok(None)`
    /// once the stream has ended.
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`] at the deadline; the stream stays in place and the next call
    /// goes on from there. Everything [`Bridge::call_timeout`] returns, and
    /// [`BridgeError::Retired`] if the stream is held by a call on a retired runtime that
    /// has not let it go within a second (one of its threads is stuck).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let (tx, rx) = async_channel::unbounded::<u32>();
    /// let mut items = bridge.iter(rx);
    ///
    /// // Nothing yet: the wait times out, and the stream stays where it was.
    /// let err = items.next_timeout(Duration::from_millis(20)).unwrap_err();
    /// assert!(err.is_timed_out());
    ///
    /// tx.try_send(7).unwrap();
    /// assert_eq!(items.next_timeout(Duration::from_secs(5))?, Some(7));
    /// drop(tx);
    /// assert_eq!(items.next_timeout(Duration::from_secs(5))?, None);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<S::Item>, BridgeError> {
        self.step(Some(timeout))
    }

    fn step(&mut self, timeout: Option<Duration>) -> Result<Option<S::Item>, BridgeError> {
        if self.ended {
            return Ok(None);
        }
        let shelf = self.shelf.clone();
        let polled = async move {
            let mut loan = match shelf.lend().await {
                Ok(loan) => loan,
                Err(Unavailable::Gone) => return Ok(None),
                Err(Unavailable::Stuck) => return Err(BridgeError::Retired),
            };
            match loan.get().next().await {
                Some(item) => Ok(Some(item)),
                None => {
                    // Ended: the stream goes now, here on the runtime.
                    drop(loan.finish());
                    Ok(None)
                }
            }
        };
        let outcome = match timeout {
            None => self.bridge.call(polled),
            Some(timeout) => self.bridge.call_timeout(polled, timeout),
        }
        .and_then(|polled| polled);
        if matches!(outcome, Ok(None) | Err(BridgeError::Shutdown)) {
            self.ended = true;
        }
        outcome
    }
}

impl<S> Iterator for BlockingStream<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    type Item = Result<S::Item, BridgeError>;

    /// Blocks until the stream's next item; see [`BlockingStream`].
    fn next(&mut self) -> Option<Self::Item> {
        self.step(None).transpose()
    }
}

impl<S> FusedIterator for BlockingStream<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
}

impl<S> Drop for BlockingStream<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    /// Drops the stream on the runtime, without waiting for it. A stream that a cancelled
    /// call still holds is dropped there when that call ends.
    fn drop(&mut self) {
        self.shelf.drop_on(&self.bridge);
    }
}

impl<S> fmt::Debug for BlockingStream<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingStream")
            .field("stream", &std::any::type_name::<S>())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
