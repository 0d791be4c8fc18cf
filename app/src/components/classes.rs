use leptos::either::EitherOf3;
use leptos::prelude::*;

use super::state::Ui;
use crate::ui_server_fns::ModelChoice;

/// The demo model's classes (`models/shapes.onnx` and its zoo-layout twin).
pub const DEMO_CLASSES: [&str; 3] = ["red_rectangle", "green_ellipse", "blue_triangle"];

/// Up to this many classes are all named in a line; a model with more gets its count, the
/// first [`FIRST_CLASSES`] names and the whole list behind a `<details>`.
pub const FEW_CLASSES: usize = 12;
pub const FIRST_CLASSES: usize = 5;

/// Whether every model served is the demo model. Decided by the classes, not by name or
/// file: the name is whatever `--model NAME=PATH` said (the browser tests serve its twin as
/// `zoo`), and the file's hash changes with its layout and with every retraining, while a
/// model that knows only these three shapes is the demo however it is served, and finds
/// nothing in real photos.
pub fn only_demo(models: &[ModelChoice]) -> bool {
    !models.is_empty()
        && models.iter().all(|m| {
            m.labels.len() == DEMO_CLASSES.len()
                && DEMO_CLASSES.iter().all(|c| m.labels.iter().any(|l| l == c))
        })
}

/// The model the page detects with: the one chosen, else the default (the first).
pub fn current<'a>(models: &'a [ModelChoice], chosen: Option<&str>) -> Option<&'a ModelChoice> {
    chosen
        .and_then(|name| models.iter().find(|m| m.name == name))
        .or_else(|| models.first())
}

/// `1 class`, `80 classes`.
pub fn classes(n: usize) -> String {
    if n == 1 {
        "1 class".to_owned()
    } else {
        format!("{n} classes")
    }
}

/// The names a line shows: all of them for a few, else the first ones and `…`.
pub fn preview(labels: &[String]) -> String {
    if labels.len() <= FEW_CLASSES {
        labels.join(", ")
    } else {
        format!("{}, …", labels[..FIRST_CLASSES].join(", "))
    }
}

/// Before any image is sent: what the current model finds (following the picker), and,
/// while only the demo model is served, how to serve one that finds real things. The same
/// with JavaScript off (the plain page's result names the model that ran).
#[component]
pub fn ModelClasses(models: Vec<ModelChoice>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    if models.is_empty() {
        return None;
    }
    let hint = only_demo(&models).then(|| view! { <CocoHint /> });
    let models = StoredValue::new(models);
    let model = move || {
        let chosen = ui.model.get();
        models.with_value(|m| current(m, chosen.as_deref()).cloned())
    };
    Some(view! {
        <div class="model-info">
            {move || model().map(|model| view! { <Finds model /> })}
            {hint}
        </div>
    })
}

/// One model's classes: a line naming them all, or the count and the first ones with the
/// whole list a click away (a `<details>`, which needs no JavaScript).
#[component]
fn Finds(model: ModelChoice) -> impl IntoView {
    let name = model.name;
    let count = model.labels.len();
    let data_model = name.clone();
    let data_classes = count.to_string();
    if count == 0 {
        return EitherOf3::A(view! {
            <p class="model-finds" id="model-finds" data-model=data_model data-classes=data_classes>
                "The model "
                <strong class="model-finds-name">{name}</strong>
                " does not name its classes: it labels what it finds by class number."
            </p>
        });
    }
    let lead = format!(" finds {}: ", classes(count));
    let names = preview(&model.labels);
    if count <= FEW_CLASSES {
        return EitherOf3::B(view! {
            <p class="model-finds" id="model-finds" data-model=data_model data-classes=data_classes>
                "The model "
                <strong class="model-finds-name">{name}</strong>
                {lead}
                <span class="class-names">{names}</span>
                "."
            </p>
        });
    }
    let all = model
        .labels
        .into_iter()
        .map(|label| view! { <li>{label}</li> })
        .collect_view();
    EitherOf3::C(view! {
        <details class="model-finds" id="model-finds" data-model=data_model data-classes=data_classes>
            <summary>
                "The model "
                <strong class="model-finds-name">{name}</strong>
                {lead}
                <span class="class-names">{names}</span>
                " "
                <span class="show-all">"Show all"</span>
            </summary>
            <ul class="class-list">{all}</ul>
        </details>
    })
}

/// How to serve the COCO model, for a server that has only the demo model.
#[component]
fn CocoHint() -> impl IntoView {
    view! {
        <p class="coco-hint" id="coco-hint">
            "This server has only the demo model, which finds coloured shapes. For people, cars, dogs and the rest of COCO's 80 classes, serve the COCO model: "
            <code>"make run-coco"</code>
            ", or "
            <code>"lookout pull-model coco-zoo"</code>
            " then "
            <code>"lookout --model coco=models/FasterRCNN-12.onnx"</code>
            "."
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, labels: &[&str]) -> ModelChoice {
        ModelChoice {
            name: name.to_owned(),
            classes: labels.len(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn the_demo_is_known_by_its_classes() {
        let demo = model("shapes", &DEMO_CLASSES);
        let twin = model("zoo", &["blue_triangle", "red_rectangle", "green_ellipse"]);
        let coco = model("shapes", &["person", "bicycle", "car"]);
        assert!(only_demo(std::slice::from_ref(&demo)));
        assert!(only_demo(&[demo.clone(), twin]));
        assert!(!only_demo(&[demo, coco.clone()]));
        assert!(!only_demo(&[coco]));
        assert!(!only_demo(&[model(
            "shapes",
            &["red_rectangle", "green_ellipse"]
        )]));
        assert!(!only_demo(&[]));
    }

    #[test]
    fn a_few_classes_are_all_named_and_many_are_counted() {
        let few: Vec<String> = DEMO_CLASSES.iter().map(|s| s.to_string()).collect();
        assert_eq!(preview(&few), "red_rectangle, green_ellipse, blue_triangle");
        let coco: Vec<String> = [
            "person",
            "bicycle",
            "car",
            "motorcycle",
            "airplane",
            "bus",
            "train",
            "truck",
            "boat",
            "traffic light",
            "fire hydrant",
            "stop sign",
            "parking meter",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            preview(&coco),
            "person, bicycle, car, motorcycle, airplane, …"
        );
        assert_eq!(preview(&coco[..FEW_CLASSES]).matches(", ").count(), 11);
        assert_eq!(classes(1), "1 class");
        assert_eq!(classes(80), "80 classes");
    }

    #[test]
    fn the_current_model_is_the_chosen_one_else_the_default() {
        let models = [model("a", &["x"]), model("b", &["y"])];
        assert_eq!(current(&models, None).unwrap().name, "a");
        assert_eq!(current(&models, Some("b")).unwrap().name, "b");
        assert_eq!(current(&models, Some("gone")).unwrap().name, "a");
        assert!(current(&[], None).is_none());
    }
}
