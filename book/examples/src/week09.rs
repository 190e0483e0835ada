//! Week 9: Kubernetes manifests for the wine-quality service as typed Rust
//! values, rendered to YAML and checked against a policy; and the readiness
//! and graceful-shutdown state the service itself needs under Kubernetes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

// ANCHOR: types
// ANCHOR: types_object
/// The four kinds of object the service needs. `kind` selects the variant,
/// as it does for the Kubernetes API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Object {
    Deployment(Deployment),
    Service(Service),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    ConfigMap(ConfigMap),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deployment {
    pub api_version: String,
    pub metadata: ObjectMeta,
    pub spec: DeploymentSpec,
}
// ANCHOR_END: types_object

// ANCHOR: types_container
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub image: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
}
// ANCHOR_END: types_container

// ANCHOR: types_probe
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    pub http_get: HttpGetAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpGetAction {
    pub path: String,
    pub port: IntOrString,
}
// ANCHOR_END: types_probe

// ANCHOR: types_resources
/// Quantities stay strings ("250m", "256Mi"), as in the API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRequirements {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
}
// ANCHOR_END: types_resources
// ANCHOR_END: types

/// A port given by number or by the name of a container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    Str(String),
}

/// The part of `metadata` this example uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentSpec {
    pub replicas: i32,
    pub selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<DeploymentStrategy>,
    pub template: PodTemplateSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    pub match_labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentStrategy {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollingUpdate {
    pub max_unavailable: IntOrString,
    pub max_surge: IntOrString,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodTemplateSpec {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodSecurityContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_profile: Option<SeccompProfile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeccompProfile {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    pub name: String,
    pub container_port: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFromSource {
    pub config_map_ref: ConfigMapRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMapRef {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    pub api_version: String,
    pub metadata: ObjectMeta,
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub selector: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    pub name: String,
    pub port: i32,
    pub target_port: IntOrString,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HorizontalPodAutoscaler {
    pub api_version: String,
    pub metadata: ObjectMeta,
    pub spec: HpaSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaSpec {
    pub scale_target_ref: ScaleTargetRef,
    pub min_replicas: i32,
    pub max_replicas: i32,
    pub metrics: Vec<MetricSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleTargetRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// Only `type: Resource` metrics (CPU or memory) in this example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub kind: String,
    pub resource: ResourceMetricSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceMetricSource {
    pub name: String,
    pub target: MetricTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricTarget {
    #[serde(rename = "type")]
    pub kind: String,
    pub average_utilization: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigMap {
    pub api_version: String,
    pub metadata: ObjectMeta,
    pub data: BTreeMap<String, String>,
}

// ANCHOR: build
/// What varies between environments; everything else is fixed policy.
#[derive(Debug, Clone)]
pub struct DeployConfig {
    pub name: String,
    /// An image reference with a version tag or a digest, never `latest`.
    pub image: String,
    pub replicas: i32,
    pub max_replicas: i32,
    pub log_level: String,
}

fn meta(name: &str, labels: &BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: labels.clone(),
    }
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The Deployment, Service, HorizontalPodAutoscaler and ConfigMap of the
/// wine-quality service.
pub fn wine_service_manifests(cfg: &DeployConfig) -> Vec<Object> {
    let labels: BTreeMap<String, String> =
        [("app.kubernetes.io/name".to_owned(), cfg.name.clone())].into();
    let config_name = format!("{}-config", cfg.name);
    let http = IntOrString::Str("http".to_owned());
    let probe = |path: &str, period, failures| Probe {
        http_get: HttpGetAction {
            path: path.to_owned(),
            port: http.clone(),
        },
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
    };

    // ANCHOR: container
    let container = Container {
        name: cfg.name.clone(),
        image: cfg.image.clone(),
        ports: vec![ContainerPort {
            name: "http".to_owned(),
            container_port: 8080,
        }],
        env_from: vec![EnvFromSource {
            config_map_ref: ConfigMapRef {
                name: config_name.clone(),
            },
        }],
        resources: Some(ResourceRequirements {
            requests: quantities(&[("cpu", "250m"), ("memory", "128Mi")]),
            limits: quantities(&[("memory", "256Mi")]),
        }),
        // Up to 30 × 2 s for the model to load before liveness counts.
        startup_probe: Some(probe("/health", 2, 30)),
        readiness_probe: Some(probe("/health", 5, 1)),
        liveness_probe: Some(probe("/health", 10, 3)),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: vec!["ALL".to_owned()],
            }),
        }),
    };
    // ANCHOR_END: container

    let deployment = Deployment {
        api_version: "apps/v1".to_owned(),
        metadata: meta(&cfg.name, &labels),
        spec: DeploymentSpec {
            replicas: cfg.replicas,
            selector: LabelSelector {
                match_labels: labels.clone(),
            },
            strategy: Some(DeploymentStrategy {
                kind: "RollingUpdate".to_owned(),
                rolling_update: Some(RollingUpdate {
                    max_unavailable: IntOrString::Int(0),
                    max_surge: IntOrString::Int(1),
                }),
            }),
            template: PodTemplateSpec {
                metadata: ObjectMeta {
                    name: None,
                    labels: labels.clone(),
                },
                spec: PodSpec {
                    termination_grace_period_seconds: Some(30),
                    automount_service_account_token: Some(false),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(65532),
                        seccomp_profile: Some(SeccompProfile {
                            kind: "RuntimeDefault".to_owned(),
                        }),
                    }),
                    containers: vec![container],
                },
            },
        },
    };

    let service = Service {
        api_version: "v1".to_owned(),
        metadata: meta(&cfg.name, &labels),
        spec: ServiceSpec {
            kind: "ClusterIP".to_owned(),
            selector: labels.clone(),
            ports: vec![ServicePort {
                name: "http".to_owned(),
                port: 80,
                target_port: http.clone(),
            }],
        },
    };

    let hpa = HorizontalPodAutoscaler {
        api_version: "autoscaling/v2".to_owned(),
        metadata: meta(&cfg.name, &labels),
        spec: HpaSpec {
            scale_target_ref: ScaleTargetRef {
                api_version: "apps/v1".to_owned(),
                kind: "Deployment".to_owned(),
                name: cfg.name.clone(),
            },
            min_replicas: cfg.replicas,
            max_replicas: cfg.max_replicas,
            metrics: vec![MetricSpec {
                kind: "Resource".to_owned(),
                resource: ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        kind: "Utilization".to_owned(),
                        average_utilization: 70,
                    },
                },
            }],
        },
    };

    let config = ConfigMap {
        api_version: "v1".to_owned(),
        metadata: meta(&config_name, &labels),
        data: quantities(&[("PORT", "8080"), ("RUST_LOG", &cfg.log_level)]),
    };

    vec![
        Object::ConfigMap(config),
        Object::Deployment(deployment),
        Object::Service(service),
        Object::HorizontalPodAutoscaler(hpa),
    ]
}

// ANCHOR: render
/// Renders objects as one multi-document YAML stream, for `kubectl apply -f`.
pub fn render_yaml(objects: &[Object]) -> Result<String, serde_yaml_ng::Error> {
    let docs = objects
        .iter()
        .map(serde_yaml_ng::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(docs.join("---\n"))
}

/// Parses a multi-document YAML stream back into typed objects. A misspelled
/// field is an error, not a silently ignored key.
pub fn parse_yaml(text: &str) -> Result<Vec<Object>, serde_yaml_ng::Error> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(Object::deserialize)
        .collect()
}
// ANCHOR_END: render
// ANCHOR_END: build

// ANCHOR: policy
// ANCHOR: policy_enum_container
/// A rule the manifests break. The schema cannot express these: each is
/// valid Kubernetes, and each is a way to lose requests or weaken isolation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    MissingReadinessProbe {
        container: String,
    },
    MissingLivenessProbe {
        container: String,
    },
    MissingRequest {
        container: String,
        resource: &'static str,
    },
    MissingMemoryLimit {
        container: String,
    },
    UnpinnedImage {
        container: String,
        image: String,
    },
    MayRunAsRoot {
        container: String,
    },
    PrivilegeEscalation {
        container: String,
    },
    WritableRootFilesystem {
        container: String,
    },
    CapabilitiesNotDropped {
        container: String,
    },
    // ANCHOR_END: policy_enum_container
    // ANCHOR: policy_enum_cross
    SelectorMatchesNoPods {
        service: String,
    },
    ScaleTargetMissing {
        hpa: String,
        target: String,
    },
    ConfigMapMissing {
        container: String,
        config_map: String,
    },
}

/// True when the reference names a digest or a tag other than `latest`.
fn image_is_pinned(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    // The tag follows the last ':' after the last '/' (a registry may have a port).
    let last_part = image.rsplit('/').next().unwrap_or(image);
    matches!(last_part.rsplit_once(':'), Some((_, tag)) if !tag.is_empty() && tag != "latest")
}
// ANCHOR_END: policy_enum_cross

// ANCHOR: policy_container_resources
fn check_container(pod: &PodSpec, c: &Container, out: &mut Vec<Violation>) {
    let container = || c.name.clone();
    if c.readiness_probe.is_none() {
        out.push(Violation::MissingReadinessProbe {
            container: container(),
        });
    }
    if c.liveness_probe.is_none() {
        out.push(Violation::MissingLivenessProbe {
            container: container(),
        });
    }
    let resources = c.resources.clone().unwrap_or_default();
    for resource in ["cpu", "memory"] {
        if !resources.requests.contains_key(resource) {
            out.push(Violation::MissingRequest {
                container: container(),
                resource,
            });
        }
    }
    if !resources.limits.contains_key("memory") {
        out.push(Violation::MissingMemoryLimit {
            container: container(),
        });
    }
    if !image_is_pinned(&c.image) {
        out.push(Violation::UnpinnedImage {
            container: container(),
            image: c.image.clone(),
        });
    }
    // ANCHOR_END: policy_container_resources
    // ANCHOR: policy_container_security
    let sc = c.security_context.clone().unwrap_or_default();
    // The container's setting wins; the pod's applies when the container has none.
    let non_root = sc.run_as_non_root.or_else(|| {
        pod.security_context
            .as_ref()
            .and_then(|p| p.run_as_non_root)
    });
    if non_root != Some(true) {
        out.push(Violation::MayRunAsRoot {
            container: container(),
        });
    }
    if sc.allow_privilege_escalation != Some(false) {
        out.push(Violation::PrivilegeEscalation {
            container: container(),
        });
    }
    if sc.read_only_root_filesystem != Some(true) {
        out.push(Violation::WritableRootFilesystem {
            container: container(),
        });
    }
    let drops_all = sc
        .capabilities
        .is_some_and(|caps| caps.drop.iter().any(|d| d == "ALL"));
    if !drops_all {
        out.push(Violation::CapabilitiesNotDropped {
            container: container(),
        });
    }
}
// ANCHOR_END: policy_container_security

// ANCHOR: policy_check
/// Checks every object, and the references between them.
pub fn check_policy(objects: &[Object]) -> Vec<Violation> {
    let mut out = Vec::new();
    let deployments: Vec<&Deployment> = objects
        .iter()
        .filter_map(|o| match o {
            Object::Deployment(d) => Some(d),
            _ => None,
        })
        .collect();
    let config_maps: Vec<&str> = objects
        .iter()
        .filter_map(|o| match o {
            Object::ConfigMap(c) => c.metadata.name.as_deref(),
            _ => None,
        })
        .collect();

    for d in &deployments {
        let pod = &d.spec.template.spec;
        for c in &pod.containers {
            check_container(pod, c, &mut out);
            for source in &c.env_from {
                let name = &source.config_map_ref.name;
                if !config_maps.contains(&name.as_str()) {
                    out.push(Violation::ConfigMapMissing {
                        container: c.name.clone(),
                        config_map: name.clone(),
                    });
                }
            }
        }
    }
    // ANCHOR_END: policy_check
    // ANCHOR: policy_check_cross
    for object in objects {
        match object {
            Object::Service(s) => {
                // A selector selects pods whose labels include all its pairs.
                let selects = |d: &&Deployment| {
                    let pod_labels = &d.spec.template.metadata.labels;
                    !s.spec.selector.is_empty()
                        && s.spec
                            .selector
                            .iter()
                            .all(|(k, v)| pod_labels.get(k) == Some(v))
                };
                if !deployments.iter().any(selects) {
                    out.push(Violation::SelectorMatchesNoPods {
                        service: s.metadata.name.clone().unwrap_or_default(),
                    });
                }
            }
            Object::HorizontalPodAutoscaler(h) => {
                let target = &h.spec.scale_target_ref;
                let exists = target.kind == "Deployment"
                    && deployments
                        .iter()
                        .any(|d| d.metadata.name.as_deref() == Some(target.name.as_str()));
                if !exists {
                    out.push(Violation::ScaleTargetMissing {
                        hpa: h.metadata.name.clone().unwrap_or_default(),
                        target: target.name.clone(),
                    });
                }
            }
            Object::Deployment(_) | Object::ConfigMap(_) => {}
        }
    }
    out
}
// ANCHOR_END: policy_check_cross
// ANCHOR_END: policy

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingReadinessProbe { container } => {
                write!(f, "container {container}: no readinessProbe")
            }
            Self::MissingLivenessProbe { container } => {
                write!(f, "container {container}: no livenessProbe")
            }
            Self::MissingRequest {
                container,
                resource,
            } => write!(f, "container {container}: no {resource} request"),
            Self::MissingMemoryLimit { container } => {
                write!(f, "container {container}: no memory limit")
            }
            Self::UnpinnedImage { container, image } => {
                write!(f, "container {container}: image {image} has no version")
            }
            Self::MayRunAsRoot { container } => {
                write!(f, "container {container}: runAsNonRoot is not true")
            }
            Self::PrivilegeEscalation { container } => {
                write!(
                    f,
                    "container {container}: allowPrivilegeEscalation is not false"
                )
            }
            Self::WritableRootFilesystem { container } => {
                write!(f, "container {container}: root filesystem is writable")
            }
            Self::CapabilitiesNotDropped { container } => {
                write!(f, "container {container}: capabilities not dropped (ALL)")
            }
            Self::SelectorMatchesNoPods { service } => {
                write!(
                    f,
                    "service {service}: selector matches no Deployment's pods"
                )
            }
            Self::ScaleTargetMissing { hpa, target } => {
                write!(f, "autoscaler {hpa}: no Deployment named {target}")
            }
            Self::ConfigMapMissing {
                container,
                config_map,
            } => write!(f, "container {container}: no ConfigMap named {config_map}"),
        }
    }
}

// ANCHOR: lifecycle
// ANCHOR: lifecycle_health
/// What `GET /health` answers, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// 503: the model is still loading.
    Loading,
    /// 200: ready for traffic.
    Ready,
    /// 503: shutting down; Kubernetes should stop sending new requests.
    Draining,
}

impl Health {
    pub fn status_code(self) -> u16 {
        match self {
            Self::Ready => 200,
            Self::Loading | Self::Draining => 503,
        }
    }
}
// ANCHOR_END: lifecycle_health

// ANCHOR: lifecycle_state
/// The state a model server shares between its loader, its request handlers
/// and its shutdown path.
#[derive(Debug)]
pub struct ServerState<M> {
    model: OnceLock<M>,
    inner: Mutex<Inner>,
    idle: Condvar,
}

#[derive(Debug, Default)]
struct Inner {
    draining: bool,
    in_flight: usize,
}

/// Held while a request is being served; dropping it ends the request.
#[derive(Debug)]
pub struct InFlight<'a, M> {
    state: &'a ServerState<M>,
}

impl<M> Default for ServerState<M> {
    fn default() -> Self {
        Self {
            model: OnceLock::new(),
            inner: Mutex::new(Inner::default()),
            idle: Condvar::new(),
        }
    }
}
// ANCHOR_END: lifecycle_state

// ANCHOR: lifecycle_requests
impl<M> ServerState<M> {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The counters stay consistent even if a holder panicked.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes the loaded model. Readiness flips here, and only here.
    pub fn set_model(&self, model: M) -> Result<(), M> {
        self.model.set(model)
    }

    pub fn model(&self) -> Option<&M> {
        self.model.get()
    }

    pub fn health(&self) -> Health {
        if self.lock().draining {
            Health::Draining
        } else if self.model.get().is_some() {
            Health::Ready
        } else {
            Health::Loading
        }
    }

    /// Counts a request as in flight until the guard is dropped. Requests
    /// that arrive while draining are still served: the load balancer may
    /// not have noticed the failed readiness probe yet.
    pub fn begin_request(&self) -> InFlight<'_, M> {
        self.lock().in_flight += 1;
        InFlight { state: self }
    }
    // ANCHOR_END: lifecycle_requests

    // ANCHOR: lifecycle_shutdown
    /// The first step on SIGTERM: fail readiness, keep serving.
    pub fn start_draining(&self) {
        self.lock().draining = true;
    }

    /// Waits until no request is in flight, or the deadline passes.
    /// Returns how many requests were still running at the end.
    pub fn wait_idle(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let mut inner = self.lock();
        while inner.in_flight > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            inner = self
                .idle
                .wait_timeout(inner, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        inner.in_flight
    }
}

impl<M> Drop for InFlight<'_, M> {
    fn drop(&mut self) {
        let mut inner = self.state.lock();
        inner.in_flight -= 1;
        if inner.in_flight == 0 {
            self.state.idle.notify_all();
        }
    }
}
// ANCHOR_END: lifecycle_shutdown
// ANCHOR_END: lifecycle

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::Tree;
    use std::sync::Arc;
    use std::thread;

    fn config() -> DeployConfig {
        DeployConfig {
            name: "wine-service".to_owned(),
            image: "ghcr.io/example/wine-service:0.1.0".to_owned(),
            replicas: 2,
            max_replicas: 6,
            log_level: "info".to_owned(),
        }
    }

    fn deployment_mut(objects: &mut [Object]) -> &mut Deployment {
        objects
            .iter_mut()
            .find_map(|o| match o {
                Object::Deployment(d) => Some(d),
                _ => None,
            })
            .expect("the bundle has a Deployment")
    }

    fn container_mut(objects: &mut [Object]) -> &mut Container {
        &mut deployment_mut(objects).spec.template.spec.containers[0]
    }

    // ANCHOR: policy_tests
    // ANCHOR: policy_tests_probes
    #[test]
    fn the_generated_bundle_passes_the_policy() {
        assert_eq!(check_policy(&wine_service_manifests(&config())), vec![]);
    }

    #[test]
    fn each_broken_manifest_breaks_exactly_one_rule() {
        let container = || "wine-service".to_owned();
        type Breakage = fn(&mut [Object]);
        let cases: Vec<(Breakage, Violation)> = vec![
            (
                |o| container_mut(o).readiness_probe = None,
                Violation::MissingReadinessProbe {
                    container: container(),
                },
            ),
            (
                |o| container_mut(o).liveness_probe = None,
                Violation::MissingLivenessProbe {
                    container: container(),
                },
            ),
            // ANCHOR_END: policy_tests_probes
            // ANCHOR: policy_tests_resources
            (
                |o| {
                    let r = container_mut(o).resources.as_mut().expect("resources");
                    r.requests.remove("cpu");
                },
                Violation::MissingRequest {
                    container: container(),
                    resource: "cpu",
                },
            ),
            (
                |o| {
                    let r = container_mut(o).resources.as_mut().expect("resources");
                    r.limits.clear();
                },
                Violation::MissingMemoryLimit {
                    container: container(),
                },
            ),
            (
                |o| container_mut(o).image = "ghcr.io/example/wine-service:latest".to_owned(),
                Violation::UnpinnedImage {
                    container: container(),
                    image: "ghcr.io/example/wine-service:latest".to_owned(),
                },
            ),
            // ANCHOR_END: policy_tests_resources
            // ANCHOR: policy_tests_security
            (
                |o| {
                    container_mut(o)
                        .security_context
                        .as_mut()
                        .expect("securityContext")
                        .run_as_non_root = Some(false);
                },
                Violation::MayRunAsRoot {
                    container: container(),
                },
            ),
            (
                |o| {
                    container_mut(o)
                        .security_context
                        .as_mut()
                        .expect("securityContext")
                        .read_only_root_filesystem = None;
                },
                Violation::WritableRootFilesystem {
                    container: container(),
                },
            ),
            // ANCHOR_END: policy_tests_security
            // ANCHOR: policy_tests_references
            (
                |o| {
                    if let Object::Service(s) = &mut o[2] {
                        s.spec.selector.insert("app".to_owned(), "wine".to_owned());
                    }
                },
                Violation::SelectorMatchesNoPods {
                    service: "wine-service".to_owned(),
                },
            ),
            (
                |o| {
                    if let Object::HorizontalPodAutoscaler(h) = &mut o[3] {
                        h.spec.scale_target_ref.name = "wine".to_owned();
                    }
                },
                Violation::ScaleTargetMissing {
                    hpa: "wine-service".to_owned(),
                    target: "wine".to_owned(),
                },
            ),
        ];
        for (breakage, expected) in cases {
            let mut objects = wine_service_manifests(&config());
            breakage(&mut objects);
            assert_eq!(check_policy(&objects), vec![expected]);
        }
    }
    // ANCHOR_END: policy_tests_references
    // ANCHOR_END: policy_tests

    #[test]
    fn pod_level_run_as_non_root_covers_the_container() {
        let mut objects = wine_service_manifests(&config());
        container_mut(&mut objects)
            .security_context
            .as_mut()
            .expect("securityContext")
            .run_as_non_root = None;
        assert_eq!(check_policy(&objects), vec![]);
    }

    #[test]
    fn image_references_are_pinned_by_tag_or_digest() {
        assert!(image_is_pinned("wine-service:0.1.0"));
        assert!(image_is_pinned("localhost:5000/wine-service:0.1.0"));
        assert!(image_is_pinned(
            "ghcr.io/example/wine-service@sha256:4f2a0c1e9b7d"
        ));
        assert!(!image_is_pinned("wine-service"));
        assert!(!image_is_pinned("localhost:5000/wine-service"));
        assert!(!image_is_pinned("wine-service:latest"));
    }

    #[test]
    fn yaml_round_trips_and_names_kinds_and_versions() {
        let objects = wine_service_manifests(&config());
        let yaml = render_yaml(&objects).expect("render");
        assert_eq!(yaml.matches("\n---\n").count(), 3);
        for line in [
            "kind: Deployment",
            "apiVersion: apps/v1",
            "kind: HorizontalPodAutoscaler",
            "apiVersion: autoscaling/v2",
            "runAsNonRoot: true",
            "readinessProbe:",
            "targetPort: http",
        ] {
            assert!(yaml.contains(line), "missing {line:?} in\n{yaml}");
        }
        assert_eq!(parse_yaml(&yaml).expect("parse"), objects);
    }

    #[test]
    fn a_misspelled_field_is_rejected() {
        let yaml = render_yaml(&wine_service_manifests(&config())).expect("render");
        let typo = yaml.replacen("readinessProbe:", "readinesProbe:", 1);
        let err = parse_yaml(&typo).expect_err("unknown field");
        assert!(err.to_string().contains("readinesProbe"), "{err}");
    }

    // ANCHOR: lifecycle_tests
    // ANCHOR: lifecycle_tests_ready
    #[test]
    fn readiness_flips_only_after_the_model_is_loaded() {
        let state = Arc::new(ServerState::<Tree>::default());
        assert_eq!(state.health(), Health::Loading);
        assert_eq!(state.health().status_code(), 503);

        let loader = {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let data = linfa_datasets::winequality();
                let (x, y) = (data.records().view(), data.targets().view());
                let tree = Tree::fit(x, y, 4).expect("training succeeds");
                state.set_model(tree).expect("the model is set once");
            })
        };
        loader.join().expect("loader thread");
        assert_eq!(state.health(), Health::Ready);
        assert_eq!(state.health().status_code(), 200);
        assert!(state.model().is_some());
    }
    // ANCHOR_END: lifecycle_tests_ready

    // ANCHOR: lifecycle_tests_drain
    #[test]
    fn draining_fails_readiness_and_waits_for_in_flight_requests() {
        let state = Arc::new(ServerState::<()>::default());
        state.set_model(()).expect("set once");
        let (started_tx, started_rx) = std::sync::mpsc::channel();

        let request = {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let _guard = state.begin_request();
                started_tx.send(()).expect("main thread listens");
                thread::sleep(Duration::from_millis(200)); // a slow prediction
            })
        };
        started_rx.recv().expect("request started");

        let begun = Instant::now();
        state.start_draining(); // SIGTERM arrived
        assert_eq!(state.health(), Health::Draining);
        assert_eq!(state.wait_idle(Duration::from_secs(5)), 0);
        assert!(begun.elapsed() >= Duration::from_millis(100));
        request.join().expect("request thread");
    }
    // ANCHOR_END: lifecycle_tests_drain
    // ANCHOR_END: lifecycle_tests

    #[test]
    fn wait_idle_gives_up_at_the_deadline() {
        let state = ServerState::<()>::default();
        let _stuck = state.begin_request();
        state.start_draining();
        assert_eq!(state.wait_idle(Duration::from_millis(50)), 1);
    }
}
