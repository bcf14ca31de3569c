// Versions pinned by the project; hack/build-k8s.sh reads KUBERNETES_VERSION from here too.
export const KUBERNETES_VERSION = 'v1.35.4';
