//! A video's detections, one analysed frame at a time: each frame is an image of the export
//! (COCO lists one image per frame, named [`frame_file_name`]), and the CSV gains the frame's
//! number and its time in the video ([`super::export_frames`]). The other formats are the
//! still-image ones, over the frames.

use super::{names, ExportImage};

/// One analysed frame of a video.
#[derive(Debug, Clone, Copy)]
pub struct ExportFrame<'a> {
    /// The frame's results as an image (its `file_name` from [`frame_file_name`]).
    pub image: ExportImage<'a>,
    /// The frame's number in the analysis (1-based, in the order sent).
    pub number: u64,
    /// Where the frame is in the video, in seconds.
    pub time_s: f64,
}

/// The name a frame gets in an export: `<video stem>_t<ms>.jpg` (`clip.webm` at 1.5 s:
/// `clip_t1500.jpg`).
pub fn frame_file_name(video: &str, time_s: f64) -> String {
    let base = video
        .rsplit(['/', '\\'])
        .find(|c| !c.is_empty())
        .unwrap_or("");
    let stem = match names::stem(base) {
        "" => "video",
        stem => stem,
    };
    format!("{stem}_t{}.jpg", millis(time_s))
}

/// A time in whole milliseconds (the file names and the CSV agree on it).
pub(super) fn millis(time_s: f64) -> u64 {
    if time_s.is_finite() {
        (time_s * 1000.0).round().max(0.0) as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::test_support::{det, labels};
    use super::super::{export_frames, ExportFormat};
    use super::*;

    fn frame<'a>(
        name: &'a str,
        number: u64,
        time_s: f64,
        dets: &'a [crate::types::DetectionOut],
    ) -> ExportFrame<'a> {
        ExportFrame {
            image: ExportImage {
                file_name: name,
                width: 640,
                height: 480,
                detections: dets,
            },
            number,
            time_s,
        }
    }

    #[test]
    fn frame_names() {
        assert_eq!(
            frame_file_name("clips/shapes.webm", 1.5),
            "shapes_t1500.jpg"
        );
        assert_eq!(frame_file_name("a.b.mp4", 0.0334), "a.b_t33.jpg");
        assert_eq!(frame_file_name("", f64::NAN), "video_t0.jpg");
        assert_eq!(frame_file_name("C:\\v\\x.mov", -1.0), "x_t0.jpg");
    }

    #[test]
    fn the_csv_has_the_frame_and_its_time() {
        let names = labels(&["__background__", "red", "green"]);
        let a = [
            det("red", 1, 0.9, [1.0, 2.0, 3.0, 4.0]),
            det("green", 2, 0.2, [0.0; 4]),
        ];
        let b = [det("green", 2, 0.75, [10.0, 20.0, 30.0, 40.0])];
        let frames = [
            frame("v_t0.jpg", 1, 0.0, &a),
            frame("v_t40.jpg", 2, 0.04, &[]),
            frame("v_t1235.jpg", 5, 1.2345, &b),
        ];
        let e = export_frames(ExportFormat::Csv, &frames, &names, 0.5).unwrap();
        assert_eq!(e.mime, "text/csv; charset=utf-8");
        assert_eq!(
            String::from_utf8(e.bytes).unwrap(),
            "frame,time_s,file,label,class_id,score,x1,y1,x2,y2,image_width,image_height\r\n\
             1,0.000,v_t0.jpg,red,1,0.9,1,2,3,4,640,480\r\n\
             5,1.235,v_t1235.jpg,green,2,0.75,10,20,30,40,640,480\r\n"
        );
    }

    #[test]
    fn coco_lists_every_frame_as_an_image() {
        let names = labels(&["__background__", "red"]);
        let a = [det("red", 1, 0.9, [1.0, 2.0, 3.0, 4.0])];
        let frames = [
            frame("v_t0.jpg", 1, 0.0, &a),
            frame("v_t40.jpg", 2, 0.04, &[]),
        ];
        let e = export_frames(ExportFormat::Coco, &frames, &names, 0.5).unwrap();
        let v: Value = serde_json::from_slice(&e.bytes).unwrap();
        let files: Vec<&str> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["file_name"].as_str().unwrap())
            .collect();
        assert_eq!(files, ["v_t0.jpg", "v_t40.jpg"]);
        assert_eq!(v["annotations"][0]["image_id"], 1);
    }
}
