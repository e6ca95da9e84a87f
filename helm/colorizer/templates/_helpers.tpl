{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "colorizer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects; component objects append -gateway / -triton. */}}
{{- define "colorizer.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "colorizer.gateway.fullname" -}}
{{- printf "%s-gateway" (include "colorizer.fullname" .) }}
{{- end }}

{{- define "colorizer.triton.fullname" -}}
{{- printf "%s-triton" (include "colorizer.fullname" .) }}
{{- end }}

{{- define "colorizer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "colorizer.labels" -}}
helm.sh/chart: {{ include "colorizer.chart" . }}
{{ include "colorizer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: colorizer
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "colorizer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "colorizer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "colorizer.gateway.selectorLabels" -}}
{{ include "colorizer.selectorLabels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "colorizer.triton.selectorLabels" -}}
{{ include "colorizer.selectorLabels" . }}
app.kubernetes.io/component: triton
{{- end }}

{{- define "colorizer.gateway.labels" -}}
{{ include "colorizer.labels" . }}
app.kubernetes.io/component: gateway
{{- end }}

{{- define "colorizer.triton.labels" -}}
{{ include "colorizer.labels" . }}
app.kubernetes.io/component: triton
{{- end }}

{{- define "colorizer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "colorizer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository[@digest|:tag] of an image block; tag defaults to the chart's appVersion. */}}
{{- define "colorizer.image" -}}
{{- $img := .image -}}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .root.Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{/* Pod-level security context shared by every pod; takes a dict with uid and gid. */}}
{{- define "colorizer.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
fsGroup: {{ .gid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security context shared by every container. */}}
{{- define "colorizer.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Gateway termination grace: preStop sleep + drain grace + margin, always > the drain grace. */}}
{{- define "colorizer.gateway.terminationGracePeriodSeconds" -}}
{{- $g := .Values.gateway -}}
{{- add (int $g.preStopSleepSeconds) (int $g.graceSeconds) (max 1 (int $g.terminationMarginSeconds)) }}
{{- end }}

{{/* host:port of Triton's gRPC endpoint, as the gateway dials it. */}}
{{/* Headless Services: their DNS names resolve to every Ready pod (client-side balancing).
     The full name is cut so that the Service name stays a 63-character DNS label. */}}
{{- define "colorizer.gateway.headlessName" -}}
{{- printf "%s-gateway-headless" (include "colorizer.fullname" . | trunc 46 | trimSuffix "-") }}
{{- end }}

{{- define "colorizer.triton.headlessName" -}}
{{- printf "%s-triton-headless" (include "colorizer.fullname" . | trunc 47 | trimSuffix "-") }}
{{- end }}

{{/* The gateway's Triton target: every Triton pod through the headless Service (dns:///, the
     gateway balances round robin), or the ClusterIP Service. */}}
{{- define "colorizer.triton.grpcAddress" -}}
{{- if .Values.triton.service.headless.enabled }}
{{- printf "dns:///%s.%s.svc:%d" (include "colorizer.triton.headlessName" .) .Release.Namespace (int .Values.triton.ports.grpc) }}
{{- else }}
{{- printf "%s.%s.svc:%d" (include "colorizer.triton.fullname" .) .Release.Namespace (int .Values.triton.ports.grpc) }}
{{- end }}
{{- end }}

{{/* Resources of the gateway container in the current mode. */}}
{{- define "colorizer.gateway.resources" -}}
{{- if eq .Values.mode "embedded" }}
{{- toYaml .Values.gateway.embeddedResources }}
{{- else }}
{{- toYaml .Values.gateway.resources }}
{{- end }}
{{- end }}

{{/*
ONNX Runtime intra-op threads: the configured value, or (when "0") the CPU limit rounded up
(falling back to the request), since ONNX Runtime sizes its pool from the node's cores, not the
container's quota. "0" stays "0" when no CPU figure is set.
*/}}
{{- define "colorizer.gateway.intraOpThreads" -}}
{{- $configured := toString (default "0" .Values.gateway.config.INTRA_OP_THREADS) -}}
{{- $res := fromYaml (include "colorizer.gateway.resources" .) -}}
{{- $cpu := "" -}}
{{- if and $res.limits $res.limits.cpu }}{{ $cpu = toString $res.limits.cpu }}
{{- else if and $res.requests $res.requests.cpu }}{{ $cpu = toString $res.requests.cpu }}{{ end -}}
{{- if and (eq $configured "0") $cpu -}}
{{- if hasSuffix "m" $cpu -}}
{{- $milli := int (trimSuffix "m" $cpu) -}}
{{- max 1 (div (add $milli 999) 1000) -}}
{{- else -}}
{{- max 1 (ceil (float64 $cpu)) -}}
{{- end -}}
{{- else -}}
{{- $configured -}}
{{- end -}}
{{- end }}

{{/* Where the gateway finds the model repository in embedded mode. */}}
{{- define "colorizer.gateway.modelRepositoryPath" -}}
{{- $repo := .Values.modelRepository -}}
{{- if eq $repo.source "image" }}
{{- $repo.imagePath }}
{{- else }}
{{- $repo.pvc.mountPath }}
{{- end }}
{{- end }}

{{/* Triton's --model-repository argument. */}}
{{- define "colorizer.triton.modelRepository" -}}
{{- $repo := .Values.modelRepository -}}
{{- if eq $repo.source "uri" }}
{{- $repo.uri }}
{{- else }}
{{- $repo.pvc.mountPath }}
{{- end }}
{{- end }}

{{/* Checks values.schema.json cannot express; fails the render with a clear message. */}}
{{- define "colorizer.validate" -}}
{{- $g := .Values.gateway -}}
{{- if eq (int $g.ports.grpc) (int $g.ports.metrics) }}
{{- fail "gateway.ports.grpc and gateway.ports.metrics must differ" }}
{{- end }}
{{- if and $g.tls.existingSecret (or (eq (int $g.ports.health) (int $g.ports.grpc)) (eq (int $g.ports.health) (int $g.ports.metrics))) }}
{{- fail "gateway.ports.health must differ from gateway.ports.grpc and gateway.ports.metrics" }}
{{- end }}
{{- if and $g.tls.clientCASecret (not $g.tls.existingSecret) }}
{{- fail "gateway.tls.clientCASecret (mTLS) needs gateway.tls.existingSecret" }}
{{- end }}
{{- $t := .Values.triton.ports -}}
{{- if or (eq (int $t.http) (int $t.grpc)) (eq (int $t.http) (int $t.metrics)) (eq (int $t.grpc) (int $t.metrics)) }}
{{- fail "triton.ports.http, triton.ports.grpc and triton.ports.metrics must all differ" }}
{{- end }}
{{- if and $g.autoscaling.enabled (gt (int $g.autoscaling.minReplicas) (int $g.autoscaling.maxReplicas)) }}
{{- fail "gateway.autoscaling.minReplicas must not exceed maxReplicas" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) }}
{{- fail "metrics.serviceMonitor.enabled needs the Prometheus Operator's ServiceMonitor CRD (monitoring.coreos.com/v1), which this cluster does not serve: install the operator (e.g. kube-prometheus-stack) or set metrics.serviceMonitor.enabled=false. With helm template, pass --api-versions monitoring.coreos.com/v1/ServiceMonitor" }}
{{- end }}
{{- include "colorizer.validateClaim" . }}
{{- end }}

{{/*
An existing claim must exist: checked against the cluster at install/upgrade time. Offline
(helm template, GitOps renderers) lookup returns nothing at all, and the check is skipped.
*/}}
{{- define "colorizer.validateClaim" -}}
{{- $repo := .Values.modelRepository -}}
{{- if eq $repo.source "pvc" }}
{{- $claims := lookup "v1" "PersistentVolumeClaim" .Release.Namespace "" -}}
{{- if $claims }}
{{- $found := false -}}
{{- range $claims.items }}{{ if eq .metadata.name $repo.pvc.claimName }}{{ $found = true }}{{ end }}{{ end -}}
{{- if not $found }}
{{- fail (printf "modelRepository.source is pvc but PersistentVolumeClaim %q does not exist in namespace %q: create it and copy model_repository/ into it, or set modelRepository.source=image (the repository baked into the gateway image) or uri (s3://, gs://, as://)" $repo.pvc.claimName .Release.Namespace) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The port the gateway's probes dial: the plaintext health-only port when the gRPC port is TLS. */}}
{{- define "colorizer.gateway.probePort" -}}
{{- if .Values.gateway.tls.existingSecret }}{{ .Values.gateway.ports.health }}{{ else }}{{ .Values.gateway.ports.grpc }}{{ end }}
{{- end }}
