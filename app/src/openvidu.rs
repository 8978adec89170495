//! The one place that touches openvidu-browser (the npm bundle's global `OpenVidu`, loaded by the page
//! before the app). An `extern` block mirrors the few classes used; [`Call`] is the safe facade the
//! views use: async methods, events as a Rust enum, videos attached to elements. No `JsValue` leaves
//! this module.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

mod js {
    use super::*;

    #[wasm_bindgen]
    extern "C" {
        /// `OpenVidu` (openvidu-browser's entry class).
        #[wasm_bindgen(js_name = OpenVidu)]
        pub type OpenVidu;
        #[wasm_bindgen(constructor, js_class = "OpenVidu", catch)]
        pub fn new() -> Result<OpenVidu, JsValue>;
        #[wasm_bindgen(method, js_name = enableProdMode)]
        pub fn enable_prod_mode(this: &OpenVidu);
        #[wasm_bindgen(method, js_name = initSession)]
        pub fn init_session(this: &OpenVidu) -> Session;
        /// `initPublisherAsync(targetElement, properties)`: resolves to a `Publisher`.
        #[wasm_bindgen(method, js_name = initPublisherAsync)]
        pub fn init_publisher_async(
            this: &OpenVidu,
            target: &JsValue,
            properties: &JsValue,
        ) -> Promise;

        pub type Session;
        #[wasm_bindgen(method)]
        pub fn on(this: &Session, event: &str, handler: &Function);
        #[wasm_bindgen(method)]
        pub fn connect(this: &Session, token: &str, metadata: &JsValue) -> Promise;
        #[wasm_bindgen(method)]
        pub fn subscribe(this: &Session, stream: &Stream, target: &JsValue) -> StreamManager;
        #[wasm_bindgen(method)]
        pub fn publish(this: &Session, publisher: &StreamManager) -> Promise;
        #[wasm_bindgen(method)]
        pub fn disconnect(this: &Session);

        pub type Stream;
        #[wasm_bindgen(method, getter, js_name = streamId)]
        pub fn stream_id(this: &Stream) -> String;
        #[wasm_bindgen(method, getter)]
        pub fn connection(this: &Stream) -> Connection;

        pub type Connection;
        #[wasm_bindgen(method, getter, js_name = connectionId)]
        pub fn connection_id(this: &Connection) -> String;
        #[wasm_bindgen(method, getter)]
        pub fn data(this: &Connection) -> String;

        /// `Publisher` or `Subscriber`.
        #[derive(Clone)]
        pub type StreamManager;
        #[wasm_bindgen(method, js_name = addVideoElement)]
        pub fn add_video_element(this: &StreamManager, video: &HtmlVideoElement) -> i32;
    }
}

/// An error from openvidu-browser: its `name` (e.g. `DEVICE_ACCESS_DENIED`) and message.
#[derive(Debug, Clone)]
pub struct OvError {
    pub name: String,
    pub message: String,
}

impl OvError {
    fn from_js(value: JsValue) -> OvError {
        let field = |key: &str| {
            Reflect::get(&value, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_string())
        };
        OvError {
            name: field("name").unwrap_or_default(),
            message: field("message")
                .or_else(|| value.as_string())
                .unwrap_or_else(|| "unknown error".into()),
        }
    }

    /// Camera or microphone refused or missing.
    pub fn is_device_problem(&self) -> bool {
        matches!(
            self.name.as_str(),
            "DEVICE_ACCESS_DENIED"
                | "DEVICE_ALREADY_IN_USE"
                | "NO_INPUT_SOURCE_SET"
                | "INPUT_VIDEO_DEVICE_NOT_FOUND"
                | "INPUT_AUDIO_DEVICE_NOT_FOUND"
                | "INPUT_AUDIO_DEVICE_GENERIC_ERROR"
                | "INPUT_VIDEO_DEVICE_GENERIC_ERROR"
                | "NotAllowedError"
                | "NotFoundError"
                | "NotReadableError"
        )
    }
}

/// Someone else's stream, announced by `streamCreated`.
pub struct RemoteStream {
    pub stream_id: String,
    pub connection_id: String,
    /// From the joiner's own connect metadata (`clientData`): untrusted text.
    pub nickname: String,
    /// From the server's connection data (`serverData`): the user name the app server vouches for.
    pub user: String,
    stream: js::Stream,
}

/// What happens in a call, for the view to react to.
pub enum CallEvent {
    StreamCreated(RemoteStream),
    StreamDestroyed {
        stream_id: String,
    },
    /// The session ended; `reason` as openvidu-browser gives it (`disconnect` when we left ourselves,
    /// `networkDisconnect`, `forceDisconnectByServer`, `sessionClosedByServer`, ...).
    Disconnected {
        reason: String,
    },
    Reconnecting,
    Reconnected,
}

/// A video source that can be shown in `<video>` elements: a publisher or a subscriber.
#[derive(Clone)]
pub struct StreamView(js::StreamManager);

impl StreamView {
    /// Shows this stream in `video` (openvidu-browser sets its source and keeps it updated).
    pub fn attach(&self, video: &HtmlVideoElement) {
        self.0.add_video_element(video);
    }
}

/// One call: an openvidu-browser `Session` and the handlers it holds.
pub struct Call {
    ov: js::OpenVidu,
    session: js::Session,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

fn get_string(value: &JsValue, key: &str) -> String {
    Reflect::get(value, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

impl Call {
    /// Prepares a session; `on_event` receives everything that happens in it.
    pub fn new(on_event: impl Fn(CallEvent) + 'static) -> Result<Call, OvError> {
        let ov = js::OpenVidu::new().map_err(|_| OvError {
            name: "NOT_LOADED".into(),
            message: "the openvidu-browser library did not load".into(),
        })?;
        ov.enable_prod_mode();
        let session = ov.init_session();
        let on_event = std::rc::Rc::new(on_event);
        let mut handlers = Vec::new();
        let mut on = |name: &str, f: Box<dyn FnMut(JsValue)>| {
            let closure = Closure::wrap(f);
            session.on(name, closure.as_ref().unchecked_ref());
            handlers.push(closure);
        };
        let emit = on_event.clone();
        on(
            "streamCreated",
            Box::new(move |event: JsValue| {
                let Ok(stream) = Reflect::get(&event, &JsValue::from_str("stream")) else {
                    return;
                };
                let stream: js::Stream = stream.unchecked_into();
                let connection = stream.connection();
                let (nickname, user) = crate::model::parse_connection_data(&connection.data());
                emit(CallEvent::StreamCreated(RemoteStream {
                    stream_id: stream.stream_id(),
                    connection_id: connection.connection_id(),
                    nickname,
                    user,
                    stream,
                }));
            }),
        );
        let emit = on_event.clone();
        on(
            "streamDestroyed",
            Box::new(move |event: JsValue| {
                let Ok(stream) = Reflect::get(&event, &JsValue::from_str("stream")) else {
                    return;
                };
                let stream: js::Stream = stream.unchecked_into();
                emit(CallEvent::StreamDestroyed {
                    stream_id: stream.stream_id(),
                });
            }),
        );
        let emit = on_event.clone();
        on(
            "sessionDisconnected",
            Box::new(move |event: JsValue| {
                emit(CallEvent::Disconnected {
                    reason: get_string(&event, "reason"),
                })
            }),
        );
        let emit = on_event.clone();
        on(
            "reconnecting",
            Box::new(move |_| emit(CallEvent::Reconnecting)),
        );
        let emit = on_event;
        on(
            "reconnected",
            Box::new(move |_| emit(CallEvent::Reconnected)),
        );
        // Without a handler openvidu-browser only logs exceptions; they are followed by the events above.
        on("exception", Box::new(|_| {}));
        Ok(Call {
            ov,
            session,
            _handlers: handlers,
        })
    }

    /// Joins with `token`; `nickname` becomes the `clientData` everyone else sees.
    pub async fn connect(&self, token: &str, nickname: &str) -> Result<(), OvError> {
        let metadata = js_sys::Object::new();
        Reflect::set(
            &metadata,
            &JsValue::from_str("clientData"),
            &JsValue::from_str(nickname),
        )
        .ok();
        JsFuture::from(self.session.connect(token, &metadata))
            .await
            .map(|_| ())
            .map_err(OvError::from_js)
    }

    /// Receives a remote stream.
    pub fn subscribe(&self, stream: &RemoteStream) -> StreamView {
        StreamView(self.session.subscribe(&stream.stream, &JsValue::UNDEFINED))
    }

    /// Opens camera and microphone and publishes them.
    pub async fn publish_camera(&self) -> Result<StreamView, OvError> {
        let props = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            Reflect::set(&props, &JsValue::from_str(k), &v).ok();
        };
        set("publishAudio", JsValue::TRUE);
        set("publishVideo", JsValue::TRUE);
        set("resolution", JsValue::from_str("640x480"));
        set("frameRate", JsValue::from_f64(30.0));
        set("mirror", JsValue::FALSE);
        let publisher = JsFuture::from(self.ov.init_publisher_async(&JsValue::UNDEFINED, &props))
            .await
            .map_err(OvError::from_js)?;
        let publisher: js::StreamManager = publisher.unchecked_into();
        JsFuture::from(self.session.publish(&publisher))
            .await
            .map_err(OvError::from_js)?;
        Ok(StreamView(publisher))
    }

    /// Leaves the call (idempotent).
    pub fn disconnect(&self) {
        self.session.disconnect();
    }
}
