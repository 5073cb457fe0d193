//! A real `tracing-subscriber` layer that records every event with the span it happened in:
//! the span's name and fields, the event's message and target, and the thread it ran on.
#![allow(dead_code)]

use std::{
    fmt::Write,
    sync::{Arc, Mutex},
};

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
    span,
};
use tracing_subscriber::{Layer, layer::Context, registry::LookupSpan};

/// One recorded event.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub target: String,
    pub level: tracing::Level,
    pub message: String,
    /// `name{field=value ...}` of the event's span, if any.
    pub span: Option<String>,
    pub thread: String,
}

#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    pub fn events(&self) -> Vec<Recorded> {
        self.0.lock().unwrap().clone()
    }

    pub fn find(&self, message: &str) -> Option<Recorded> {
        self.events()
            .into_iter()
            .find(|e| e.message.contains(message))
    }
}

/// Collects fields as `name=value` pairs, and the message apart.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            if !self.pairs.is_empty() {
                self.pairs.push(' ');
            }
            let _ = write!(self.pairs, "{}={value:?}", field.name());
        }
    }
}

/// What the layer keeps in a span's extensions.
struct SpanText(String);

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            let text = format!("{}{{{}}}", span.name(), fields.pairs);
            span.extensions_mut().insert(SpanText(text));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let span = ctx
            .event_span(event)
            .and_then(|span| span.extensions().get::<SpanText>().map(|t| t.0.clone()));
        let message = if fields.pairs.is_empty() {
            fields.message
        } else {
            format!("{} {}", fields.message, fields.pairs)
        };
        self.0.lock().unwrap().push(Recorded {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            message,
            span,
            thread: std::thread::current()
                .name()
                .unwrap_or("<unnamed>")
                .to_owned(),
        });
    }
}
