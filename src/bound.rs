//! Runtime-bound values: [`Bridge::bind`] makes a value on the bridge's runtime the first time
//! a call needs it, keeps it with that runtime generation, and makes it again on the next one.

use std::{any::type_name, error::Error, fmt, future::Future, pin::Pin, time::Duration};

use event_listener::Event;

use crate::{
    bridge::Bridge,
    error::BridgeError,
    generation::{self, BoundValue, Generation},
    sync::{Arc, Mutex, Weak, lock},
};

type BoxError = Box<dyn Error + Send + Sync + 'static>;
type Making<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send + 'static>>;
type Maker<T> = Box<dyn Fn() -> Making<T> + Send + Sync + 'static>;

/// A value bound to a bridge's runtime: made there, used there, dropped there.
///
/// Made by [`Bridge::bind`] or [`Bridge::try_bind`]. Many async clients must be built inside
/// their runtime (they spawn tasks as they are built) and are useless once it is gone (their
/// pool's tasks died with it). A `Bound` keeps such a value with the runtime that serves it:
///
/// - **Made on the runtime.** The maker runs on the bridge's runtime, inside its context, the
///   first time a call needs the value; concurrent first calls make it once.
/// - **One per runtime generation.** The value lives with the generation that made it. When
///   the bridge retires that runtime (a failed health probe) or replaces it, the next call
///   makes a fresh value on the new one, so no call ever sees a value bound to a dead runtime.
/// - **Dropped on the runtime**, inside its context: when its generation ends, when the last
///   clone of the `Bound` is dropped, or at shutdown. (If the runtime has already stopped,
///   it is dropped wherever the runtime drops its last jobs.)
/// - **Per-call bridges** ([`Bridge::per_call`]) make the value for every call and drop it
///   after: that is what a runtime per call costs, made visible.
/// - **Nested calls** (from a thread of the bridge's own runtime, which cannot wait for
///   itself) run on a one-off thread with a one-off runtime context, as
///   [`Bridge::call`] does; they get a value of their own, made and dropped there, because
///   the runtime the bound value needs is the one that is blocked.
///
/// `Bound` is cheap to clone; clones share the value. It holds a clone of its [`Bridge`].
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use loopbridge::Bridge;
///
/// static MADE: AtomicUsize = AtomicUsize::new(0);
///
/// struct Client {
///     base: String,
/// }
///
/// let bridge = Bridge::new();
/// let client = bridge.bind(|| async {
///     MADE.fetch_add(1, Ordering::Relaxed);
///     Client { base: "http://127.0.0.1".into() }
/// });
///
/// // `f` gets the value on the runtime and returns a future that runs there.
/// let url = client.call(|c| {
///     let url = format!("{}/users", c.base);
///     async move { url }
/// })?;
/// assert_eq!(url, "http://127.0.0.1/users");
///
/// client.call(|_| async {})?;
/// assert_eq!(MADE.load(Ordering::Relaxed), 1); // made once, reused after
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[must_use = "a bound value is made only when a call needs it; dropping the last `Bound` drops the value"]
pub struct Bound<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    /// Unique in the process: the key of the value in a generation.
    id: u64,
    bridge: Bridge,
    make: Maker<T>,
    /// The generations a value was bound to, to unbind it from when the last handle goes.
    homes: Mutex<Vec<Weak<Generation>>>,
    /// The generations (their `uid`s) where a call is making the value right now.
    making: Mutex<Vec<u64>>,
    /// Notified when a call stops making the value, made or not.
    made: Event,
}

impl Bridge {
    /// Binds a value to the bridge's runtime: `make` runs there, inside the runtime's context,
    /// when a call first needs the value, and again on every new runtime generation.
    ///
    /// Use the value with [`Bound::call`]. See [`Bound`] for where the value lives and when it
    /// is dropped. Nothing runs until the first call.
    ///
    /// # Examples
    ///
    /// A client that must be built inside its runtime, here tokio's (it spawns at
    /// construction), served by a tokio bridge:
    ///
    /// ```
    /// use loopbridge::Bridge;
    /// use loopbridge_tokio::TokioRuntime;
    ///
    /// struct Client {
    ///     background: tokio::task::JoinHandle<()>,
    /// }
    ///
    /// let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
    /// let client = bridge.bind(|| async {
    ///     // `tokio::spawn` panics outside a tokio runtime.
    ///     let background = tokio::spawn(std::future::pending::<()>());
    ///     Client { background }
    /// });
    /// let alive = client.call(|c| {
    ///     let alive = !c.background.is_finished();
    ///     async move { alive }
    /// })?;
    /// assert!(alive);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn bind<T, M, F>(&self, make: M) -> Bound<T>
    where
        T: Send + Sync + 'static,
        M: Fn() -> F + Send + Sync + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        self.try_bind(move || {
            let making = make();
            async move { Ok::<T, std::convert::Infallible>(making.await) }
        })
    }

    /// Like [`bind`](Bridge::bind), for a maker that can fail (connecting to a database, say).
    ///
    /// A failure reaches the call that needed the value as [`BridgeError::Make`], holding the
    /// maker's error; nothing is bound, and the next call runs the maker again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use loopbridge::Bridge;
    ///
    /// static UP: AtomicBool = AtomicBool::new(false);
    ///
    /// let bridge = Bridge::new();
    /// let db = bridge.try_bind(|| async {
    ///     match UP.load(Ordering::Relaxed) {
    ///         true => Ok("connection"),
    ///         false => Err(std::io::Error::other("connection refused")),
    ///     }
    /// });
    ///
    /// let err = db.call(|_| async {}).unwrap_err();
    /// assert!(err.is_make());
    /// assert_eq!(err.to_string(), "failed to make a runtime-bound value");
    /// // The maker's own error is the source, as `Start`'s is.
    /// let cause = std::error::Error::source(&err).unwrap();
    /// assert_eq!(cause.to_string(), "connection refused");
    ///
    /// UP.store(true, Ordering::Relaxed);
    /// assert_eq!(db.call(|conn| { let conn = *conn; async move { conn } })?, "connection");
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn try_bind<T, E, M, F>(&self, make: M) -> Bound<T>
    where
        T: Send + Sync + 'static,
        E: Into<BoxError>,
        M: Fn() -> F + Send + Sync + 'static,
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let make: Maker<T> = Box::new(move || {
            let making = make();
            Box::pin(async move { making.await.map_err(Into::into) })
        });
        Bound {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                bridge: self.clone(),
                make,
                homes: Mutex::new(Vec::new()),
                making: Mutex::new(Vec::new()),
                made: Event::new(),
            }),
        }
    }
}

impl<T: Send + Sync + 'static> Bound<T> {
    /// Runs `f` with the value on the bridge's runtime, and blocks until the future it returns
    /// completes; makes the value first if this runtime has none yet.
    ///
    /// `f` runs on the runtime, inside its context, and borrows the value only while it runs:
    /// the future it returns is `'static`, so it takes what it needs (a clone of a client,
    /// say). Behaves as [`Bridge::call`] does: panics in `make`, `f` or the future are
    /// re-raised here, and a nested call runs on a one-off thread (with a value of its own,
    /// see [`Bound`]).
    ///
    /// # Errors
    ///
    /// [`BridgeError::Make`] if the value had to be made and its maker failed; everything
    /// [`Bridge::call`] returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let greeting = bridge.bind(|| async { String::from("hello") });
    /// let n = greeting.call(|s| {
    ///     let len = s.len();
    ///     async move { len }
    /// })?;
    /// assert_eq!(n, 5);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call<R, F, Fut>(&self, f: F) -> Result<R, BridgeError>
    where
        F: FnOnce(&T) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        self.call_inner(f, None)
    }

    /// Like [`call`](Bound::call), but gives up at `timeout`, as [`Bridge::call_timeout`]
    /// does: the deadline covers making the value too, and a call that times out is
    /// cancelled on the runtime (a value it was making is then not bound; the next call makes
    /// it again).
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`], and everything [`call`](Bound::call) returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let slow = bridge.bind(|| async {
    ///     std::future::pending::<()>().await;
    /// });
    /// let err = slow.call_timeout(|_| async {}, Duration::from_millis(20)).unwrap_err();
    /// assert!(err.is_timed_out());
    /// ```
    pub fn call_timeout<R, F, Fut>(&self, f: F, timeout: Duration) -> Result<R, BridgeError>
    where
        F: FnOnce(&T) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        self.call_inner(f, Some(timeout))
    }

    fn call_inner<R, F, Fut>(&self, f: F, timeout: Option<Duration>) -> Result<R, BridgeError>
    where
        F: FnOnce(&T) -> Fut + Send + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: Send + 'static,
    {
        let shared = self.shared.clone();
        let future = async move {
            let value = shared.value().await?;
            let output = f(&value).await;
            // Held until here, so that a value made for this call alone (a nested one) outlives
            // the future that may use it; a bound value dropped by the last of its holders here
            // is still dropped on the runtime.
            drop(value);
            Ok(output)
        };
        let bridge = &self.shared.bridge;
        match timeout {
            None => bridge.call(future)?,
            Some(timeout) => bridge.call_timeout(future, timeout)?,
        }
    }

    /// The bridge whose runtime the value is bound to.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let bound = bridge.bind(|| async { 1 });
    /// assert!(!bound.bridge().is_shutdown());
    /// ```
    #[must_use]
    pub fn bridge(&self) -> &Bridge {
        &self.shared.bridge
    }
}

impl<T: Send + Sync + 'static> Shared<T> {
    /// The value for the call running on this thread: the one bound to the generation whose
    /// step this is, made now if there is none; or, on a one-off thread (a nested call), one
    /// made for this call alone.
    async fn value(&self) -> Result<Arc<T>, BridgeError> {
        let Some(generation) = generation::stepping() else {
            return self.make().await.map(Arc::new);
        };
        let uid = generation.uid();
        let home = Arc::downgrade(&generation);
        // Not held across an await: a task must not keep its own runtime alive.
        drop(generation);
        loop {
            let generation = home.upgrade().ok_or(BridgeError::Retired)?;
            if let Some(value) = generation.bound(self.id) {
                return Ok(downcast(value));
            }
            if let Some(reason) = generation.close_reason() {
                return Err(reason.into());
            }
            drop(generation);
            let waiting = {
                let mut making = lock(&self.making);
                match making.contains(&uid) {
                    // Registered before the lock is released, so the maker's notification,
                    // sent after it takes its mark off, is not missed.
                    true => Some(self.made.listen()),
                    false => {
                        making.push(uid);
                        None
                    }
                }
            };
            match waiting {
                Some(listener) => listener.await,
                None => return self.make_here(&home, uid).await,
            }
        }
    }

    /// Makes the value and binds it to the generation `home`, for a call that took the
    /// generation's making mark; takes the mark off however this ends (a cancelled call
    /// included), and wakes the calls waiting for it.
    async fn make_here(&self, home: &Weak<Generation>, uid: u64) -> Result<Arc<T>, BridgeError> {
        let _mark = Unmark {
            making: &self.making,
            made: &self.made,
            uid,
        };
        // Made while another call held the mark and we waited for the lock: use it.
        let generation = home.upgrade().ok_or(BridgeError::Retired)?;
        if let Some(value) = generation.bound(self.id) {
            return Ok(downcast(value));
        }
        drop(generation);
        let value = Arc::new(self.make().await?);
        let generation = home.upgrade().ok_or(BridgeError::Retired)?;
        let bound: BoundValue = value.clone();
        match generation.bind(self.id, bound) {
            Ok(()) => {
                let mut homes = lock(&self.homes);
                homes.retain(|home| home.strong_count() > 0);
                homes.push(home.clone());
                Ok(value)
            }
            // Closed while the value was made: it goes (here, on the runtime), and the call
            // fails as every call on the generation does.
            Err(_) => Err(generation
                .close_reason()
                .map_or(BridgeError::Retired, BridgeError::from)),
        }
    }

    async fn make(&self) -> Result<T, BridgeError> {
        (self.make)().await.map_err(BridgeError::Make)
    }
}

/// Takes a generation's making mark off, and wakes the calls waiting for it.
struct Unmark<'a> {
    making: &'a Mutex<Vec<u64>>,
    made: &'a Event,
    uid: u64,
}

impl Drop for Unmark<'_> {
    fn drop(&mut self) {
        lock(self.making).retain(|uid| *uid != self.uid);
        self.made.notify(usize::MAX);
    }
}

fn downcast<T: Send + Sync + 'static>(value: BoundValue) -> Arc<T> {
    value
        .downcast::<T>()
        .unwrap_or_else(|_| unreachable!("a bound value has its `Bound`'s type"))
}

impl<T> Drop for Shared<T> {
    /// The last handle is gone (and every call that used it): the value goes on each runtime
    /// that still has one.
    fn drop(&mut self) {
        for home in lock(&self.homes).drain(..) {
            if let Some(generation) = home.upgrade() {
                generation.unbind(self.id);
            }
        }
    }
}

impl<T> Clone for Bound<T> {
    fn clone(&self) -> Self {
        Bound {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for Bound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let generations: Vec<u64> = lock(&self.shared.homes)
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|generation| generation.bound(self.shared.id).is_some())
            .map(|generation| generation.id)
            .collect();
        f.debug_struct("Bound")
            .field("type", &type_name::<T>())
            .field("id", &self.shared.id)
            .field("made_on_generations", &generations)
            .finish_non_exhaustive()
    }
}
