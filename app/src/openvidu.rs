//! The one place that touches openvidu-browser (the npm bundle's global `OpenVidu`, loaded by the page
//! before the app). An `extern` block mirrors the few classes used; [`Call`] is the safe facade the
//! views use: async methods, events as a Rust enum, videos attached to elements. No `JsValue` leaves
//! this module. Everything a remote participant sends (signals, connection data) is checked here
//! once and reaches the views as plain Rust values, or not at all.

use js_sys::{Function, Promise, Reflect};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

pub use crate::quality::Received;

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

        /// What `Session` and `StreamManager` extend: `on` and `off`.
        #[derive(Clone)]
        pub type EventDispatcher;
        #[wasm_bindgen(method)]
        pub fn on(this: &EventDispatcher, event: &str, handler: &Function);
        #[wasm_bindgen(method)]
        pub fn off(this: &EventDispatcher, event: &str, handler: &Function);

        #[derive(Clone)]
        #[wasm_bindgen(extends = EventDispatcher)]
        pub type Session;
        #[wasm_bindgen(method)]
        pub fn connect(this: &Session, token: &str, metadata: &JsValue) -> Promise;
        #[wasm_bindgen(method)]
        pub fn subscribe(this: &Session, stream: &Stream, target: &JsValue) -> StreamManager;
        #[wasm_bindgen(method)]
        pub fn publish(this: &Session, publisher: &StreamManager) -> Promise;
        #[wasm_bindgen(method)]
        pub fn disconnect(this: &Session);
        #[wasm_bindgen(method)]
        pub fn signal(this: &Session, options: &JsValue) -> Promise;
        #[wasm_bindgen(method, js_name = forceDisconnect)]
        pub fn force_disconnect(this: &Session, connection: &Connection) -> Promise;
        #[wasm_bindgen(method, js_name = forceUnpublish)]
        pub fn force_unpublish(this: &Session, stream: &Stream) -> Promise;
        /// One's own connection (set once `connect` has succeeded).
        #[wasm_bindgen(method, getter)]
        pub fn connection(this: &Session) -> Option<Connection>;

        pub type Stream;
        #[wasm_bindgen(method, getter, js_name = streamId)]
        pub fn stream_id(this: &Stream) -> String;
        #[wasm_bindgen(method, getter)]
        pub fn connection(this: &Stream) -> Connection;
        #[wasm_bindgen(method, getter, js_name = audioActive)]
        pub fn audio_active(this: &Stream) -> bool;
        #[wasm_bindgen(method, getter, js_name = videoActive)]
        pub fn video_active(this: &Stream) -> bool;
        #[wasm_bindgen(method, getter, js_name = typeOfVideo)]
        pub fn type_of_video(this: &Stream) -> Option<String>;
        #[wasm_bindgen(method, js_name = getMediaStream)]
        pub fn get_media_stream(this: &Stream) -> Option<web_sys::MediaStream>;
        /// The `RTCPeerConnection` that carries it (undefined before it is negotiated).
        /// Throws until openvidu-browser has created the connection (`webRtcPeer`).
        #[wasm_bindgen(method, catch, js_name = getRTCPeerConnection)]
        pub fn get_rtc_peer_connection(this: &Stream) -> Result<JsValue, JsValue>;

        #[derive(Clone)]
        pub type Connection;
        #[wasm_bindgen(method, getter, js_name = connectionId)]
        pub fn connection_id(this: &Connection) -> String;
        #[wasm_bindgen(method, getter)]
        pub fn data(this: &Connection) -> String;

        /// `Publisher` or `Subscriber`.
        #[derive(Clone)]
        #[wasm_bindgen(extends = EventDispatcher)]
        pub type StreamManager;
        #[wasm_bindgen(method, js_name = addVideoElement)]
        pub fn add_video_element(this: &StreamManager, video: &HtmlVideoElement) -> i32;
        #[wasm_bindgen(method, getter)]
        pub fn stream(this: &StreamManager) -> Stream;
        /// `Publisher.publishAudio(enabled)` (a Publisher only).
        #[wasm_bindgen(method, js_name = publishAudio)]
        pub fn publish_audio(this: &StreamManager, enabled: bool);
        /// `Publisher.publishVideo(enabled, resource)` (a Publisher only): a Promise in 2.32. Off with
        /// `resource` true, it stops the camera track (the device is let go); on, it sends the track
        /// `resource` if the one it had was stopped.
        #[wasm_bindgen(method, js_name = publishVideo)]
        pub fn publish_video(this: &StreamManager, enabled: bool, resource: &JsValue) -> JsValue;
        /// `Publisher.replaceTrack(track)` (a Publisher only): sends `track` instead of the one of its
        /// kind, without renegotiating, and stops the old one.
        #[wasm_bindgen(method, js_name = replaceTrack)]
        pub fn replace_track(this: &StreamManager, track: &web_sys::MediaStreamTrack) -> Promise;
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

/// A participant's connection, announced by `connectionCreated` (one's own included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub connection_id: String,
    /// From the joiner's own connect metadata (`clientData`): untrusted text.
    pub nickname: String,
    /// From the server's connection data (`serverData`): the user name the app server vouches for.
    pub user: String,
    /// From the server's connection data too: the role the connection was created with.
    pub role: Option<crate::model::Role>,
    pub local: bool,
}

/// Someone else's stream, announced by `streamCreated`.
pub struct RemoteStream {
    pub stream_id: String,
    pub connection_id: String,
    /// From the joiner's own connect metadata (`clientData`): untrusted text.
    pub nickname: String,
    /// From the server's connection data (`serverData`): the user name the app server vouches for.
    pub user: String,
    pub audio: bool,
    pub video: bool,
    /// A screen share (`typeOfVideo` SCREEN) rather than a camera.
    pub screen: bool,
    stream: js::Stream,
}

/// A chat message as received. The names come from the sender's connection (the server's data and
/// the nickname it joined with), never from the message body, which is plain text of any length (the
/// view applies its limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub connection_id: String,
    pub nickname: String,
    pub user: String,
    pub text: String,
    pub local: bool,
}

/// What happens in a call, for the view to react to.
pub enum CallEvent {
    ConnectionCreated(Peer),
    ConnectionDestroyed {
        connection_id: String,
    },
    StreamCreated(RemoteStream),
    StreamDestroyed {
        stream_id: String,
    },
    /// A stream's microphone or camera was switched on or off (by its owner).
    StreamChanged {
        stream_id: String,
        audio: Option<bool>,
        video: Option<bool>,
    },
    /// One's own published stream ended; `reason` as openvidu-browser gives it (`unpublish`,
    /// `forceUnpublishByUser` when a moderator stopped it, ...).
    OwnStreamDestroyed {
        reason: String,
    },
    Chat(ChatMessage),
    Speaking {
        connection_id: String,
        speaking: bool,
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

    /// The counters of the video this stream receives (`inbound-rtp` in `getStats`), if it receives one.
    pub async fn received_video(&self) -> Option<Received> {
        let pc = self.0.stream().get_rtc_peer_connection().ok()?;
        let get_stats = get(&pc, "getStats").dyn_into::<Function>().ok()?;
        let promise = get_stats.call0(&pc).ok()?.dyn_into::<Promise>().ok()?;
        let report = JsFuture::from(promise).await.ok()?;
        let values = get(&report, "values")
            .dyn_into::<Function>()
            .ok()?
            .call0(&report)
            .ok()?;
        let number = |s: &JsValue, key: &str| get(s, key).as_f64().unwrap_or(0.0);
        js_sys::Array::from(&values)
            .iter()
            .find(|s| get_string(s, "type") == "inbound-rtp" && get_string(s, "kind") == "video")
            .map(|s| Received {
                packets: number(&s, "packetsReceived"),
                lost: number(&s, "packetsLost"),
                nacks: number(&s, "nackCount"),
                freezes: number(&s, "freezeCount"),
            })
    }
}

/// Which camera or microphone to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The browser's default device.
    Default,
    /// A device id from `enumerateDevices`.
    Device(String),
    /// None at all: the device is not opened.
    Off,
}

/// A handler registered on an openvidu-browser object; dropping it unregisters it (`off`), so that an
/// event after the page let go of the call (a reconnection that succeeds once the user has left, say)
/// finds no handler rather than a dropped closure.
struct Handler {
    target: js::EventDispatcher,
    event: &'static str,
    closure: Closure<dyn FnMut(JsValue)>,
}

impl Handler {
    fn on(
        target: &js::EventDispatcher,
        event: &'static str,
        f: Box<dyn FnMut(JsValue)>,
    ) -> Handler {
        let closure = Closure::wrap(f);
        target.on(event, closure.as_ref().unchecked_ref());
        Handler {
            target: target.clone(),
            event,
            closure,
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        self.target
            .off(self.event, self.closure.as_ref().unchecked_ref());
    }
}

/// One's own published camera and microphone.
pub struct Publisher {
    manager: js::StreamManager,
    _handlers: Vec<Handler>,
}

impl Publisher {
    pub fn view(&self) -> StreamView {
        StreamView(self.manager.clone())
    }

    pub fn stream_id(&self) -> String {
        self.manager.stream().stream_id()
    }

    /// Sends or stops the microphone (the others get `streamPropertyChanged`).
    pub fn set_audio(&self, on: bool) {
        self.manager.publish_audio(on);
    }

    /// Stops the camera (`video`) or microphone track sent now, so that its device is free; the others
    /// get nothing from it until [`Publisher::replace`] (or, for the camera, [`Publisher::camera_on`]).
    pub fn stop_sent(&self, video: bool) {
        if let Some(t) = self.sent_track(video) {
            t.stop();
        }
    }

    /// The camera (`video`) or microphone track sent now, if the call sends one.
    fn sent_track(&self, video: bool) -> Option<web_sys::MediaStreamTrack> {
        let s = self.manager.stream().get_media_stream()?;
        let tracks = if video {
            s.get_video_tracks()
        } else {
            s.get_audio_tracks()
        };
        tracks.get(0).dyn_into().ok()
    }

    /// Sends `track` instead of the camera or microphone sent now (its kind says which), keeping that
    /// device's on/off state. The old track is stopped; on failure `track` is.
    pub async fn replace(&self, track: web_sys::MediaStreamTrack) -> Result<(), OvError> {
        let Some(current) = self.sent_track(track.kind() == "video") else {
            track.stop();
            return Err(OvError {
                name: "NO_INPUT_SOURCE_SET".into(),
                message: "this call was joined without that device".into(),
            });
        };
        track.set_enabled(current.enabled());
        let result = JsFuture::from(self.manager.replace_track(&track))
            .await
            .map(|_| ())
            .map_err(OvError::from_js);
        if result.is_err() {
            track.stop();
        }
        result
    }

    /// Turns the camera off for the others (they get `streamPropertyChanged`) and lets go of the
    /// device, so that its light goes off and another program may use it.
    pub async fn camera_off(&self) -> Result<(), OvError> {
        self.publish_video(false, &JsValue::TRUE).await
    }

    /// Turns the camera on again, sending `track` (a camera just opened). If the camera sent before is
    /// somehow still running, that one is sent again and `track` is stopped.
    pub async fn camera_on(&self, track: web_sys::MediaStreamTrack) -> Result<(), OvError> {
        let stopped = self
            .sent_track(true)
            .is_none_or(|t| get_string(&t, "readyState") == "ended");
        if !stopped {
            track.stop();
            return self.publish_video(true, &JsValue::UNDEFINED).await;
        }
        let result = self.publish_video(true, &track).await;
        if result.is_err() {
            track.stop();
        }
        result
    }

    async fn publish_video(&self, on: bool, resource: &JsValue) -> Result<(), OvError> {
        let result = self.manager.publish_video(on, resource);
        if let Some(promise) = result.dyn_ref::<Promise>() {
            JsFuture::from(promise.clone())
                .await
                .map_err(OvError::from_js)?;
        }
        Ok(())
    }
}

/// One's own screen, shared through a second connection to the same call: openvidu-browser gives a
/// connection one published stream, so a second stream needs a second connection (openvidu-call does
/// the same). The others see a stream with `typeOfVideo` SCREEN.
pub struct ScreenShare {
    session: js::Session,
    manager: js::StreamManager,
    /// The shared track's `ended` listener, removed on drop (as [`Handler`] does for openvidu-browser).
    /// Dropping the share ends it.
    on_ended: Option<(web_sys::EventTarget, Closure<dyn FnMut(JsValue)>)>,
}

impl Drop for ScreenShare {
    fn drop(&mut self) {
        if let Some((track, closure)) = &self.on_ended {
            let _ = track
                .remove_event_listener_with_callback("ended", closure.as_ref().unchecked_ref());
        }
        // Letting go of a share ends it, also one whose call was left while it was starting.
        self.session.disconnect();
    }
}

impl ScreenShare {
    pub fn view(&self) -> StreamView {
        StreamView(self.manager.clone())
    }
}

/// Whether this browser can share a screen at all (phone browsers have no `getDisplayMedia`).
pub fn can_share_screen() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let devices = get(&window.navigator(), "mediaDevices");
    devices.is_object() && get(&devices, "getDisplayMedia").is_function()
}

type Emit = Rc<dyn Fn(CallEvent)>;

/// One call: an openvidu-browser `Session` and the handlers it holds.
pub struct Call {
    ov: js::OpenVidu,
    session: js::Session,
    emit: Emit,
    /// The connections and streams seen, for moderator actions on them by id.
    connections: Rc<RefCell<HashMap<String, js::Connection>>>,
    streams: Rc<RefCell<HashMap<String, js::Stream>>>,
    _handlers: Vec<Handler>,
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn get_string(value: &JsValue, key: &str) -> String {
    get(value, key).as_string().unwrap_or_default()
}

/// A `Connection` object found at `event[key]`, if it is one.
fn connection_at(event: &JsValue, key: &str) -> Option<js::Connection> {
    let c = get(event, key);
    if c.is_object() && get(&c, "connectionId").is_string() {
        Some(c.unchecked_into())
    } else {
        None
    }
}

fn stream_at(event: &JsValue) -> Option<js::Stream> {
    let s = get(event, "stream");
    if s.is_object() && get(&s, "streamId").is_string() {
        Some(s.unchecked_into())
    } else {
        None
    }
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
        let emit: Emit = Rc::new(on_event);
        let connections: Rc<RefCell<HashMap<String, js::Connection>>> = Default::default();
        let streams: Rc<RefCell<HashMap<String, js::Stream>>> = Default::default();
        let mut handlers = Vec::new();
        let mut on = |name: &'static str, f: Box<dyn FnMut(JsValue)>| {
            handlers.push(Handler::on(&session, name, f));
        };
        let own_id = {
            let session = session.clone();
            move || {
                session
                    .connection()
                    .map(|c| c.connection_id())
                    .unwrap_or_default()
            }
        };

        let (e, conns, own) = (emit.clone(), connections.clone(), own_id.clone());
        on(
            "connectionCreated",
            Box::new(move |event: JsValue| {
                let Some(connection) = connection_at(&event, "connection") else {
                    return;
                };
                let (nickname, server) = crate::model::parse_connection_data(&connection.data());
                let connection_id = connection.connection_id();
                let local = connection_id == own();
                conns.borrow_mut().insert(connection_id.clone(), connection);
                e(CallEvent::ConnectionCreated(Peer {
                    connection_id,
                    nickname,
                    user: server.user,
                    role: server.role,
                    local,
                }));
            }),
        );
        let (e, conns) = (emit.clone(), connections.clone());
        on(
            "connectionDestroyed",
            Box::new(move |event: JsValue| {
                let Some(connection) = connection_at(&event, "connection") else {
                    return;
                };
                let connection_id = connection.connection_id();
                conns.borrow_mut().remove(&connection_id);
                e(CallEvent::ConnectionDestroyed { connection_id });
            }),
        );
        let (e, strs) = (emit.clone(), streams.clone());
        on(
            "streamCreated",
            Box::new(move |event: JsValue| {
                let Some(stream) = stream_at(&event) else {
                    return;
                };
                let connection = stream.connection();
                let (nickname, server) = crate::model::parse_connection_data(&connection.data());
                let user = server.user;
                let stream_id = stream.stream_id();
                strs.borrow_mut()
                    .insert(stream_id.clone(), stream.clone_ref());
                e(CallEvent::StreamCreated(RemoteStream {
                    stream_id,
                    connection_id: connection.connection_id(),
                    nickname,
                    user,
                    audio: stream.audio_active(),
                    video: stream.video_active(),
                    screen: stream.type_of_video().as_deref() == Some("SCREEN"),
                    stream,
                }));
            }),
        );
        let (e, strs) = (emit.clone(), streams.clone());
        on(
            "streamDestroyed",
            Box::new(move |event: JsValue| {
                let Some(stream) = stream_at(&event) else {
                    return;
                };
                let stream_id = stream.stream_id();
                strs.borrow_mut().remove(&stream_id);
                e(CallEvent::StreamDestroyed { stream_id });
            }),
        );
        let e = emit.clone();
        on(
            "streamPropertyChanged",
            Box::new(move |event: JsValue| {
                let Some(stream) = stream_at(&event) else {
                    return;
                };
                let value = get(&event, "newValue").as_bool();
                let (audio, video) = match get_string(&event, "changedProperty").as_str() {
                    "audioActive" => (value, None),
                    "videoActive" => (None, value),
                    _ => return,
                };
                e(CallEvent::StreamChanged {
                    stream_id: stream.stream_id(),
                    audio,
                    video,
                });
            }),
        );
        let (e, own) = (emit.clone(), own_id.clone());
        on(
            "signal:chat",
            Box::new(move |event: JsValue| {
                // A signal from the server (no sender) or with non-text data is not a chat message.
                let Some(from) = connection_at(&event, "from") else {
                    return;
                };
                let Some(text) = get(&event, "data").as_string() else {
                    return;
                };
                let (nickname, server) = crate::model::parse_connection_data(&from.data());
                let user = server.user;
                let connection_id = from.connection_id();
                let local = connection_id == own();
                e(CallEvent::Chat(ChatMessage {
                    connection_id,
                    nickname,
                    user,
                    text,
                    local,
                }));
            }),
        );
        for (name, speaking) in [
            ("publisherStartSpeaking", true),
            ("publisherStopSpeaking", false),
        ] {
            let e = emit.clone();
            on(
                name,
                Box::new(move |event: JsValue| {
                    if let Some(c) = connection_at(&event, "connection") {
                        e(CallEvent::Speaking {
                            connection_id: c.connection_id(),
                            speaking,
                        });
                    }
                }),
            );
        }
        let e = emit.clone();
        on(
            "sessionDisconnected",
            Box::new(move |event: JsValue| {
                e(CallEvent::Disconnected {
                    reason: get_string(&event, "reason"),
                })
            }),
        );
        let e = emit.clone();
        on(
            "reconnecting",
            Box::new(move |_| e(CallEvent::Reconnecting)),
        );
        let e = emit.clone();
        on("reconnected", Box::new(move |_| e(CallEvent::Reconnected)));
        // Without a handler openvidu-browser only logs exceptions; they are followed by the events above.
        on("exception", Box::new(|_| {}));
        Ok(Call {
            ov,
            session,
            emit,
            connections,
            streams,
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

    /// Opens camera and microphone and publishes them, each on or off as asked; `sources` says which
    /// microphone and camera (a device not used at all is never opened, and stays off).
    pub async fn publish_camera(
        &self,
        audio: bool,
        video: bool,
        sources: (Source, Source),
    ) -> Result<Publisher, OvError> {
        let props = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            Reflect::set(&props, &JsValue::from_str(k), &v).ok();
        };
        let (microphone, camera) = sources;
        for (key, source) in [("audioSource", &microphone), ("videoSource", &camera)] {
            match source {
                Source::Default => {}
                Source::Device(id) => set(key, JsValue::from_str(id)),
                Source::Off => set(key, JsValue::FALSE),
            }
        }
        set(
            "publishAudio",
            JsValue::from_bool(audio && microphone != Source::Off),
        );
        set(
            "publishVideo",
            JsValue::from_bool(video && camera != Source::Off),
        );
        set("resolution", JsValue::from_str("640x480"));
        set("frameRate", JsValue::from_f64(30.0));
        // Mirroring is the view's business (CSS), so that the others never see it.
        set("mirror", JsValue::FALSE);
        let manager = JsFuture::from(self.ov.init_publisher_async(&JsValue::UNDEFINED, &props))
            .await
            .map_err(OvError::from_js)?;
        let manager: js::StreamManager = manager.unchecked_into();
        let e = self.emit.clone();
        let destroyed = Handler::on(
            &manager,
            "streamDestroyed",
            Box::new(move |event: JsValue| {
                e(CallEvent::OwnStreamDestroyed {
                    reason: get_string(&event, "reason"),
                })
            }),
        );
        JsFuture::from(self.session.publish(&manager))
            .await
            .map_err(OvError::from_js)?;
        Ok(Publisher {
            manager,
            _handlers: vec![destroyed],
        })
    }

    /// Asks the browser for a screen (its own picker) and shares it as a second connection with `token`.
    /// `on_ended` runs when the share ends from outside, e.g. the browser's own "Stop sharing".
    pub async fn share_screen(
        &self,
        token: &str,
        nickname: &str,
        on_ended: impl Fn() + 'static,
    ) -> Result<ScreenShare, OvError> {
        let props = js_sys::Object::new();
        let set = |k: &str, v: JsValue| {
            Reflect::set(&props, &JsValue::from_str(k), &v).ok();
        };
        set("videoSource", JsValue::from_str("screen"));
        set("audioSource", JsValue::FALSE);
        set("publishAudio", JsValue::FALSE);
        set("publishVideo", JsValue::TRUE);
        set("mirror", JsValue::FALSE);
        // The picker first: a share refused there costs no connection.
        let manager = JsFuture::from(self.ov.init_publisher_async(&JsValue::UNDEFINED, &props))
            .await
            .map_err(OvError::from_js)?;
        let manager: js::StreamManager = manager.unchecked_into();
        let session = self.ov.init_session();
        let on_ended =
            Closure::wrap(Box::new(move |_: JsValue| on_ended()) as Box<dyn FnMut(JsValue)>);
        let track = manager.stream().get_media_stream().and_then(|m| {
            m.get_video_tracks()
                .get(0)
                .dyn_into::<web_sys::EventTarget>()
                .ok()
        });
        let on_ended = track.and_then(|track| {
            track
                .add_event_listener_with_callback("ended", on_ended.as_ref().unchecked_ref())
                .ok()
                .map(|()| (track, on_ended))
        });
        let share = ScreenShare {
            session,
            manager,
            on_ended,
        };
        let metadata = js_sys::Object::new();
        Reflect::set(
            &metadata,
            &JsValue::from_str("clientData"),
            &JsValue::from_str(nickname),
        )
        .ok();
        let joined = async {
            JsFuture::from(share.session.connect(token, &metadata)).await?;
            JsFuture::from(share.session.publish(&share.manager)).await
        };
        if let Err(e) = joined.await {
            drop(share); // ends it
            return Err(OvError::from_js(e));
        }
        Ok(share)
    }

    /// Sends a chat message to everyone (oneself included: it comes back as [`CallEvent::Chat`]).
    pub async fn send_chat(&self, text: &str) -> Result<(), OvError> {
        let options = js_sys::Object::new();
        Reflect::set(
            &options,
            &JsValue::from_str("type"),
            &JsValue::from_str("chat"),
        )
        .ok();
        Reflect::set(
            &options,
            &JsValue::from_str("data"),
            &JsValue::from_str(text),
        )
        .ok();
        Reflect::set(&options, &JsValue::from_str("to"), &js_sys::Array::new()).ok();
        JsFuture::from(self.session.signal(&options))
            .await
            .map(|_| ())
            .map_err(OvError::from_js)
    }

    /// Removes a participant (MODERATOR only; the server refuses anyone else). Someone who already
    /// left is no error: there is nothing to do.
    pub async fn force_disconnect(&self, connection_id: &str) -> Result<(), OvError> {
        let Some(connection) = self.connections.borrow().get(connection_id).cloned() else {
            return Ok(());
        };
        JsFuture::from(self.session.force_disconnect(&connection))
            .await
            .map(|_| ())
            .map_err(OvError::from_js)
    }

    /// Stops a participant's stream (MODERATOR only). A stream already gone is no error.
    pub async fn force_unpublish(&self, stream_id: &str) -> Result<(), OvError> {
        let Some(stream) = self.streams.borrow().get(stream_id).map(|s| s.clone_ref()) else {
            return Ok(());
        };
        JsFuture::from(self.session.force_unpublish(&stream))
            .await
            .map(|_| ())
            .map_err(OvError::from_js)
    }

    /// Leaves the call (idempotent).
    pub fn disconnect(&self) {
        self.session.disconnect();
    }
}

/// `JsCast` clones for the extern types that do not derive `Clone`.
trait CloneRef {
    fn clone_ref(&self) -> Self;
}

impl<T: JsCast> CloneRef for T {
    fn clone_ref(&self) -> Self {
        let value: &JsValue = self.as_ref();
        value.clone().unchecked_into()
    }
}
