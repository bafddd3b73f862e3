//! Inference engines behind one trait: onnxruntime (the `ort` crate, library loaded at run
//! time) and tract (pure Rust). Both take the same NCHW float32 tensor and return the model's
//! outputs in graph order.

use crate::VisionError;
use std::path::Path;
use std::sync::OnceLock;

/// A dense float32 tensor, row-major.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A loaded model.
pub trait Engine {
    /// `onnxruntime` or `tract`.
    fn name(&self) -> &'static str;
    /// Runs the model on one input tensor.
    fn run(&mut self, input: Tensor) -> Result<Vec<Tensor>, VisionError>;
    /// A metadata property of the ONNX model (`names`, `imgsz`, …).
    fn metadata(&self, key: &str) -> Option<String>;
    /// Gets ready for inputs of `shape` (tract optimises the model for each shape it runs).
    fn plan(&mut self, _shape: &[usize]) -> Result<(), VisionError> {
        Ok(())
    }
}

fn err(engine: &'static str) -> impl Fn(String) -> VisionError {
    move |why| VisionError::Engine { engine, why }
}

// ---------------------------------------------------------------- tract

type Plan = std::sync::Arc<tract_onnx::prelude::TypedRunnableModel>;

pub struct Tract {
    model: tract_onnx::prelude::InferenceModel,
    /// The model optimised for each input shape run so far.
    plans: Vec<(Vec<usize>, Plan)>,
    metadata: Vec<(String, String)>,
}

impl Tract {
    /// Loads `model` and optimises it for `input_shape` (none: shapes come with `plan`), on
    /// `threads` threads.
    pub fn load(model: &Path, input_shape: &[usize], threads: usize) -> Result<Tract, VisionError> {
        use tract_linalg::multithread::{set_default_executor, Executor};
        use tract_onnx::prelude::*;
        let e = err("tract");
        if threads > 1 {
            set_default_executor(Executor::multithread(threads));
        } else {
            set_default_executor(Executor::SingleThread);
        }
        let inference =
            tract_onnx::onnx().model_for_path(model).map_err(|x| e(format!("{}: {x:#}", model.display())))?;
        let metadata = inference
            .properties
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("onnx.metadata_props.")?;
                let s = v.to_plain_array_view::<String>().ok()?.iter().next()?.clone();
                Some((key.to_string(), s))
            })
            .collect();
        let mut tract = Tract { model: inference, plans: Vec::new(), metadata };
        if !input_shape.is_empty() {
            tract.plan_for(input_shape)?;
        }
        Ok(tract)
    }

    fn plan_for(&mut self, shape: &[usize]) -> Result<Plan, VisionError> {
        use tract_onnx::prelude::*;
        if let Some((_, plan)) = self.plans.iter().find(|(s, _)| s == shape) {
            return Ok(plan.clone());
        }
        let e = err("tract");
        let plan = self
            .model
            .clone()
            .with_input_fact(0, f32::fact(shape).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|x| e(format!("optimising for input {shape:?}: {x:#}")))?;
        self.plans.push((shape.to_vec(), plan.clone()));
        Ok(plan)
    }
}

impl Engine for Tract {
    fn name(&self) -> &'static str {
        "tract"
    }
    fn run(&mut self, input: Tensor) -> Result<Vec<Tensor>, VisionError> {
        use tract_onnx::prelude::*;
        let e = err("tract");
        let plan = self.plan_for(&input.shape)?;
        let t = tract_ndarray::ArrayD::from_shape_vec(input.shape, input.data).map_err(|x| e(x.to_string()))?;
        let outputs = plan.run(tvec!(Tensor::from(t).into())).map_err(|x| e(format!("{x:#}")))?;
        outputs
            .iter()
            .map(|o| {
                let view = o.to_plain_array_view::<f32>().map_err(|x| e(format!("{x:#}")))?;
                Ok(self::Tensor { shape: view.shape().to_vec(), data: view.iter().copied().collect() })
            })
            .collect()
    }
    fn metadata(&self, key: &str) -> Option<String> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    fn plan(&mut self, shape: &[usize]) -> Result<(), VisionError> {
        self.plan_for(shape).map(|_| ())
    }
}

// ---------------------------------------------------------------- onnxruntime

static ORT_ENV: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads `libonnxruntime.so` once per process (vision and speech share it).
pub fn ort_env(lib: &Path) -> Result<&'static ort::environment::Environment, VisionError> {
    if cfg!(target_feature = "crt-static") {
        // dlopen() from a statically linked glibc program crashes inside the loaded library.
        return Err(VisionError::Engine {
            engine: "onnxruntime",
            why: "this agent is statically linked and cannot load libonnxruntime.so; the dynamically linked \
                  agent (scripts/build-agent.sh builds both) runs this engine"
                .into(),
        });
    }
    ORT_ENV
        .get_or_init(|| {
            let builder = ort::init_from(lib).map_err(|e| format!("loading {}: {e}", lib.display()))?;
            builder.with_name("sandbench").with_telemetry(false).build().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|why| VisionError::Engine { engine: "onnxruntime", why: why.clone() })
}

pub struct Onnxruntime {
    session: ort::session::Session,
    metadata: Vec<(String, String)>,
}

impl Onnxruntime {
    /// Loads `model` with the library at `lib`, `threads` intra-op threads.
    pub fn load(lib: &Path, model: &Path, threads: usize) -> Result<Onnxruntime, VisionError> {
        use ort::session::{builder::GraphOptimizationLevel, Session};
        let env = ort_env(lib)?;
        let e = err("onnxruntime");
        let session = Session::builder(env)
            .map_err(|x| e(x.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|x| e(x.to_string()))?
            .with_intra_threads(threads.max(1))
            .map_err(|x| e(x.to_string()))?
            .with_inter_threads(1)
            .map_err(|x| e(x.to_string()))?
            .commit_from_file(model)
            .map_err(|x| e(format!("{}: {x}", model.display())))?;
        let metadata = match session.metadata() {
            Ok(m) => {
                m.custom_keys().unwrap_or_default().into_iter().filter_map(|k| m.custom(&k).map(|v| (k, v))).collect()
            }
            Err(_) => Vec::new(),
        };
        Ok(Onnxruntime { session, metadata })
    }
}

impl Engine for Onnxruntime {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }
    fn run(&mut self, input: Tensor) -> Result<Vec<Tensor>, VisionError> {
        let e = err("onnxruntime");
        let value = ort::value::Tensor::from_array((input.shape, input.data)).map_err(|x| e(x.to_string()))?;
        let outputs = self.session.run(ort::inputs![value]).map_err(|x| e(x.to_string()))?;
        let mut out = Vec::new();
        for (_, v) in outputs.iter() {
            let (shape, data) = v.try_extract_tensor::<f32>().map_err(|x| e(x.to_string()))?;
            out.push(Tensor { shape: shape.iter().map(|&d| d as usize).collect(), data: data.to_vec() });
        }
        Ok(out)
    }
    fn metadata(&self, key: &str) -> Option<String> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}
