//! One implementation, offered by a library both as async functions and as blocking ones,
//! with the application choosing the runtime the blocking ones run on.
//!
//! ```sh
//! cargo run --example runtime_agnostic_library           # blocking calls on smol
//! cargo run --example runtime_agnostic_library -- tokio  # ... on tokio
//! ```

use std::process::ExitCode;

use loopbridge::Bridge;
use loopbridge_tokio::TokioRuntime;

/// The library: written once, async, tied to no runtime.
mod forecast {
    use std::time::Duration;

    /// Why a forecast failed.
    #[derive(Debug)]
    pub enum Error {
        UnknownCity(String),
        Bridge(loopbridge::BridgeError),
    }

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Error::UnknownCity(city) => write!(f, "no forecast for {city}"),
                Error::Bridge(err) => write!(f, "could not run the forecast: {err}"),
            }
        }
    }

    impl std::error::Error for Error {}

    /// The async API, for callers that already run an executor of any kind.
    pub async fn tomorrow(city: &str) -> Result<String, Error> {
        // Stands in for a request to a forecast service; async-io's timer works under any
        // runtime.
        async_io::Timer::after(Duration::from_millis(5)).await;
        match city {
            "Lisbon" => Ok("sunny, 24 °C".to_owned()),
            "Oslo" => Ok("snow, -3 °C".to_owned()),
            other => Err(Error::UnknownCity(other.to_owned())),
        }
    }

    /// The blocking API: the same implementation, run on whatever bridge the application
    /// hands in.
    pub mod blocking {
        use std::time::Duration;

        use loopbridge::Bridge;

        use super::Error;

        pub fn tomorrow(bridge: &Bridge, city: &str) -> Result<String, Error> {
            let city = city.to_owned();
            bridge
                .call_timeout(
                    async move { super::tomorrow(&city).await },
                    Duration::from_secs(5),
                )
                .map_err(Error::Bridge)?
        }
    }
}

/// The application: picks the runtime once, at start-up.
fn main() -> ExitCode {
    let runtime = std::env::args().nth(1).unwrap_or_else(|| "smol".to_owned());
    let bridge = match runtime.as_str() {
        "smol" => Bridge::new(),
        "tokio" => Bridge::with_runtime(TokioRuntime::current_thread),
        other => {
            eprintln!("error: unknown runtime `{other}`; use `smol` or `tokio`");
            return ExitCode::from(2);
        }
    };
    for city in ["Lisbon", "Oslo", "Atlantis"] {
        match forecast::blocking::tomorrow(&bridge, city) {
            Ok(weather) => println!("{city} (blocking, on {runtime}): {weather}"),
            Err(err) => println!("{city} (blocking, on {runtime}): {err}"),
        }
    }
    // An async caller uses the async API on its own executor, with no bridge at all.
    let weather = futures_lite::future::block_on(forecast::tomorrow("Oslo"));
    println!("Oslo (async): {}", weather.expect("a forecast for Oslo"));
    bridge.shutdown();
    ExitCode::SUCCESS
}
