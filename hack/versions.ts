// Versions pinned by the project; hack/build-k8s.sh reads KUBERNETES_VERSION from here too.
export const KUBERNETES_VERSION = 'v1.35.4';
/** cert-manager, whose Certificate CRD (from its Go module) the cert-manager class is tested against. */
export const CERT_MANAGER_VERSION = 'v1.21.2';
