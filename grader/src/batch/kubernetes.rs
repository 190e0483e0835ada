//! Grading a class past one machine: a Kubernetes Indexed Job whose pods
//! each grade one shard of the roster (`grader batch --shard I/N`) with an
//! engine of their own (a Docker-in-Docker sidecar), the roster, the
//! submissions and the journals on one shared volume. `grader batch merge`
//! then joins the shards' journals into the class's outputs.

use crate::result::Audience;
use serde_json::{Value, json};

/// What the Job is made of.
pub struct JobParams<'a> {
    pub lab: &'a str,
    pub shards: u32,
    pub parallelism: u32,
    /// An image with `grader`, `grader-probe` and a POSIX shell.
    pub image: &'a str,
    /// The Docker-in-Docker image of the sidecar (`docker:27-dind`, say).
    pub dind_image: &'a str,
    /// The PersistentVolumeClaim holding the roster, submissions and outputs.
    pub claim: &'a str,
    /// The roster's path on that volume.
    pub roster: &'a str,
    pub audience: Audience,
    /// Grades at once in each pod.
    pub jobs: u16,
}

/// Where the volume and the sidecar's socket are mounted in the pod.
const CLASS: &str = "/class";
const SOCKET_DIR: &str = "/run/dind";

/// The Indexed Job, as JSON (which kubectl reads as YAML).
pub fn indexed_job(p: &JobParams) -> Value {
    let name = format!("grade-{}", p.lab);
    let labels = json!({
        "app.kubernetes.io/name": "mlops-grader",
        "app.kubernetes.io/component": "batch",
        "mlops-course.dev/lab": p.lab,
    });
    let audience = match p.audience {
        Audience::Student => "student",
        Audience::Instructor => "instructor",
    };
    // Kubernetes numbers the pods of an Indexed Job from 0; shards count from 1.
    let script = format!(
        "exec grader batch {lab} {CLASS}/{roster} --out {CLASS}/out --shard \"$((JOB_COMPLETION_INDEX + 1))/{n}\" --audience {audience} --jobs {jobs} --builds 1",
        lab = p.lab,
        roster = p.roster.trim_start_matches('/'),
        n = p.shards,
        jobs = p.jobs,
    );
    let docker_host = format!("unix://{SOCKET_DIR}/docker.sock");
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": { "name": name, "labels": labels },
        "spec": {
            "completionMode": "Indexed",
            "completions": p.shards,
            "parallelism": p.parallelism,
            // A pod that fails (a node lost) retries its own shard; the
            // shard's journal lets it resume.
            "backoffLimitPerIndex": 2,
            "maxFailedIndexes": 0,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": { "labels": labels },
                "spec": {
                    "restartPolicy": "Never",
                    "volumes": [
                        { "name": "class", "persistentVolumeClaim": { "claimName": p.claim } },
                        { "name": "dind-socket", "emptyDir": {} },
                        { "name": "dind-storage", "emptyDir": {} }
                    ],
                    // A native sidecar (Kubernetes 1.29 and later): started
                    // first, ready before the grader starts, stopped after it.
                    "initContainers": [{
                        "name": "engine",
                        "image": p.dind_image,
                        "restartPolicy": "Always",
                        "args": [format!("--host={docker_host}")],
                        "env": [{ "name": "DOCKER_TLS_CERTDIR", "value": "" }],
                        "securityContext": { "privileged": true },
                        "startupProbe": {
                            "exec": { "command": ["docker", "--host", docker_host, "info"] },
                            "periodSeconds": 2,
                            "failureThreshold": 60
                        },
                        "resources": {
                            "requests": { "cpu": "2", "memory": "4Gi" },
                            "limits": { "memory": "8Gi" }
                        },
                        "volumeMounts": [
                            { "name": "dind-socket", "mountPath": SOCKET_DIR },
                            { "name": "dind-storage", "mountPath": "/var/lib/docker" }
                        ]
                    }],
                    "containers": [{
                        "name": "grader",
                        "image": p.image,
                        "command": ["sh", "-c", script],
                        "env": [
                            { "name": "DOCKER_HOST", "value": docker_host },
                            { "name": "CI", "value": "true" }
                        ],
                        "resources": {
                            "requests": { "cpu": "500m", "memory": "512Mi" },
                            "limits": { "memory": "1Gi" }
                        },
                        "volumeMounts": [
                            { "name": "dind-socket", "mountPath": SOCKET_DIR },
                            { "name": "class", "mountPath": CLASS }
                        ]
                    }]
                }
            }
        }
    })
}
