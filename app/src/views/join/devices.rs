//! The browser's cameras, microphones and speakers, for the lobby: a preview stream from the chosen
//! devices, the devices' list, the microphone's level. Calls publish through [`crate::openvidu`]; this
//! is only the look before joining. No `JsValue` leaves this module.

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, HtmlVideoElement, MediaDeviceInfo, MediaDeviceKind, MediaStream,
    MediaStreamConstraints, MediaStreamTrack,
};

pub use crate::views::device_select::{Device, Devices};

/// Why a camera or microphone could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The person or the browser refused access.
    Denied,
    /// There is no such device.
    Missing,
    /// Another program holds it.
    Busy,
    Other,
}

impl Problem {
    fn from_js(error: &JsValue) -> Problem {
        let name = Reflect::get(error, &JsValue::from_str("name"))
            .ok()
            .and_then(|n| n.as_string())
            .unwrap_or_default();
        match name.as_str() {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => Problem::Denied,
            "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => Problem::Missing,
            "NotReadableError" | "AbortError" | "TrackStartError" => Problem::Busy,
            _ => Problem::Other,
        }
    }
}

/// What opening the devices gave: a preview of what worked, and why the rest did not.
pub struct Opened {
    pub preview: Option<Preview>,
    pub camera: Result<(), Problem>,
    pub microphone: Result<(), Problem>,
}

/// A camera and/or microphone stream shown before joining, with a level meter on its sound.
pub struct Preview {
    stream: MediaStream,
    meter: Option<(AudioContext, AnalyserNode)>,
    samples: std::cell::RefCell<Vec<f32>>,
}

/// `true`, or `{deviceId: {exact: id}}` (Chromium does not honour an `ideal` device id while another
/// device is open).
fn wanted(device: Option<&str>) -> JsValue {
    let Some(id) = device.filter(|d| !d.is_empty()) else {
        return JsValue::TRUE;
    };
    let exact = Object::new();
    let _ = Reflect::set(&exact, &JsValue::from_str("exact"), &JsValue::from_str(id));
    let constraints = Object::new();
    let _ = Reflect::set(&constraints, &JsValue::from_str("deviceId"), &exact);
    constraints.into()
}

async fn get_user_media(video: JsValue, audio: JsValue) -> Result<MediaStream, Problem> {
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or(Problem::Missing)?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_video(&video);
    constraints.set_audio(&audio);
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|e| Problem::from_js(&e))?;
    JsFuture::from(promise)
        .await
        .map(|s| s.unchecked_into())
        .map_err(|e| Problem::from_js(&e))
}

/// Opens the chosen camera and microphone (`None`: the browser's default); a chosen device that is gone
/// (unplugged since) gives way to the default one.
pub async fn open(camera: Option<&str>, microphone: Option<&str>) -> Opened {
    let opened = open_these(camera, microphone).await;
    let gone = |r: Result<(), Problem>, chosen: Option<&str>| {
        r == Err(Problem::Missing) && chosen.is_some()
    };
    if gone(opened.camera, camera) || gone(opened.microphone, microphone) {
        if let Some(p) = &opened.preview {
            p.stop();
        }
        return open_these(None, None).await;
    }
    opened
}

/// Opens these devices. When both together fail, each is tried alone, so that the lobby can say which
/// one is the problem.
async fn open_these(camera: Option<&str>, microphone: Option<&str>) -> Opened {
    let both = get_user_media(wanted(camera), wanted(microphone)).await;
    let Err(problem) = both else {
        return Opened {
            preview: both.ok().map(Preview::new),
            camera: Ok(()),
            microphone: Ok(()),
        };
    };
    if let Ok(sound) = get_user_media(JsValue::FALSE, wanted(microphone)).await {
        return Opened {
            preview: Some(Preview::new(sound)),
            camera: Err(problem),
            microphone: Ok(()),
        };
    }
    match get_user_media(wanted(camera), JsValue::FALSE).await {
        Ok(picture) => Opened {
            preview: Some(Preview::new(picture)),
            camera: Ok(()),
            microphone: Err(problem),
        },
        Err(_) => Opened {
            preview: None,
            camera: Err(problem),
            microphone: Err(problem),
        },
    }
}

impl Preview {
    fn new(stream: MediaStream) -> Preview {
        let meter = (stream.get_audio_tracks().length() > 0)
            .then(|| {
                let context = AudioContext::new().ok()?;
                let source = context.create_media_stream_source(&stream).ok()?;
                let analyser = context.create_analyser().ok()?;
                analyser.set_fft_size(1024);
                source.connect_with_audio_node(&analyser).ok()?;
                // Started by the click that led here; resumed in case the browser suspended it.
                let _ = context.resume();
                Some((context, analyser))
            })
            .flatten();
        Preview {
            stream,
            meter,
            samples: std::cell::RefCell::new(vec![0.0; 1024]),
        }
    }

    pub fn attach(&self, video: &HtmlVideoElement) {
        video.set_src_object(Some(&self.stream));
    }

    /// The microphone's loudness now, 0 (silence) to 1.
    pub fn level(&self) -> f64 {
        let Some((_, analyser)) = &self.meter else {
            return 0.0;
        };
        let mut samples = self.samples.borrow_mut();
        analyser.get_float_time_domain_data(&mut samples);
        let rms = (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt();
        // Speech sits around 0.05 to 0.3 RMS: scale so that it fills most of the meter.
        (f64::from(rms) * 4.0).min(1.0)
    }

    /// Releases the camera only (its light goes off), keeping the microphone and its meter.
    pub fn stop_camera(&self) {
        for track in self.stream.get_video_tracks().iter() {
            if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                track.stop();
                self.stream.remove_track(&track);
            }
        }
    }

    /// Releases the devices (the camera light goes off).
    pub fn stop(&self) {
        for track in self.stream.get_tracks().iter() {
            if let Ok(track) = track.dyn_into::<MediaStreamTrack>() {
                track.stop();
            }
        }
        if let Some((context, _)) = &self.meter {
            let _ = context.close();
        }
    }
}

/// Opens just the camera (`video`) or the microphone `id`, for a call to send instead of the one it
/// sends now.
pub async fn open_track(video: bool, id: &str) -> Result<MediaStreamTrack, Problem> {
    let (v, a) = if video {
        (wanted(Some(id)), JsValue::FALSE)
    } else {
        (JsValue::FALSE, wanted(Some(id)))
    };
    let stream = get_user_media(v, a).await?;
    stream
        .get_tracks()
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| Problem::Missing)
}

/// The devices this browser has (labels appear once access was granted).
pub async fn list() -> Devices {
    let mut out = Devices::default();
    let Some(promise) = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .and_then(|d| d.enumerate_devices().ok())
    else {
        return out;
    };
    let Ok(list) = JsFuture::from(promise).await else {
        return out;
    };
    for info in js_sys::Array::from(&list).iter() {
        let Ok(info) = info.dyn_into::<MediaDeviceInfo>() else {
            continue;
        };
        let id = info.device_id();
        if id.is_empty() {
            continue;
        }
        let (list, fallback) = match info.kind() {
            MediaDeviceKind::Videoinput => (&mut out.cameras, "Camera"),
            MediaDeviceKind::Audioinput => (&mut out.microphones, "Microphone"),
            MediaDeviceKind::Audiooutput => (&mut out.speakers, "Speaker"),
            _ => continue,
        };
        let label = match info.label() {
            l if l.is_empty() => format!("{fallback} {}", list.len() + 1),
            l => l,
        };
        list.push(Device { id, label });
    }
    out
}

/// Whether this browser can send a video element's sound to a chosen speaker (`setSinkId`).
pub fn can_choose_speaker() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    Reflect::get(&window, &JsValue::from_str("HTMLMediaElement"))
        .and_then(|c| Reflect::get(&c, &JsValue::from_str("prototype")))
        .and_then(|p| Reflect::has(&p, &JsValue::from_str("setSinkId")))
        .unwrap_or(false)
}

/// Plays `video`'s sound on the speaker `id` (where the browser can; otherwise nothing happens).
pub fn set_speaker(video: &HtmlVideoElement, id: &str) {
    if let Ok(f) = Reflect::get(video, &JsValue::from_str("setSinkId"))
        .and_then(|f| f.dyn_into::<js_sys::Function>())
    {
        // A Promise; a speaker that went away leaves the default one playing.
        let _ = f.call1(video, &JsValue::from_str(id));
    }
}
