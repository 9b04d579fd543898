{{/*
Helpers shared by every template, as a real chart has them. Most take a per-object context:
  dict "root" $ "name" NAME "i" INDEX "component" COMPONENT
*/}}

{{/* Kinds with a template of their own; templates/custom-resource.yaml renders the rest. */}}
{{- define "bench.dedicatedKinds" -}}
Namespace ServiceAccount ConfigMap Secret Service Deployment StatefulSet CronJob Job NetworkPolicy Role RoleBinding PersistentVolumeClaim HorizontalPodAutoscaler PodDisruptionBudget Ingress CustomResourceDefinition Application AppProject
{{- end }}

{{- define "bench.chart" -}}
{{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* How many objects of a kind: include "bench.count" (list $ "Deployment") */}}
{{- define "bench.count" -}}
{{ index (index . 0).Values.counts (index . 1) | default 0 | int }}
{{- end }}

{{- define "bench.namespace" -}}
{{- $n := max 1 (index .root.Values.counts "Namespace" | default 0 | int) -}}
{{ printf "%s-%02d" .root.Values.namespacePrefix (mod .i $n) }}
{{- end }}

{{- define "bench.domain" -}}
{{ printf "domain-%d" (mod .i 97) }}
{{- end }}

{{- define "bench.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The labels of a pod template: fewer than the object's own, as most charts do. */}}
{{- define "bench.podLabels" -}}
{{ include "bench.selectorLabels" . }}
app.kubernetes.io/component: {{ .component | default "data-product" }}
dappmesh.io/domain: {{ include "bench.domain" . }}
{{- end }}

{{- define "bench.labels" -}}
helm.sh/chart: {{ include "bench.chart" .root }}
{{ include "bench.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Values.image.tag | quote }}
app.kubernetes.io/component: {{ .component | default "data-product" }}
app.kubernetes.io/part-of: {{ .root.Values.global.partOf }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
dappmesh.io/domain: {{ include "bench.domain" . }}
dappmesh.io/environment: {{ .root.Values.global.environment }}
{{- end }}

{{- define "bench.annotations" -}}
dappmesh.io/owner: {{ printf "team-%s" (include "bench.domain" .) }}
dappmesh.io/source: {{ printf "products/%s.yaml" .name | quote }}
dappmesh.io/urn: {{ printf "urn:dpds:synthetic:%s:%s" (include "bench.domain" .) .name }}
{{- end }}

{{- define "bench.image" -}}
{{ printf "%s/%s:%s" .root.Values.global.imageRegistry .component .root.Values.image.tag | quote }}
{{- end }}

{{/* A hardened container, shared by Deployment, StatefulSet, CronJob and Job. */}}
{{- define "bench.container" -}}
- name: {{ .component }}
  image: {{ include "bench.image" . }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: [--product={{ .name }}, --domain={{ include "bench.domain" . }}, --config=/etc/dappmesh/config.yaml]
  {{- if .ports }}
  ports:
    - name: http
      containerPort: 8080
      protocol: TCP
  {{- end }}
  env:
    {{- toYaml .root.Values.env | nindent 4 }}
  resources:
    {{- toYaml .root.Values.resources | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.containerSecurityContext | nindent 4 }}
  {{- if .ports }}
  livenessProbe:
    httpGet:
      path: /healthz
      port: http
    initialDelaySeconds: 10
    periodSeconds: 10
    failureThreshold: 3
  readinessProbe:
    httpGet:
      path: /readyz
      port: http
    periodSeconds: 5
    failureThreshold: 3
  {{- end }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    - name: config
      mountPath: /etc/dappmesh
      readOnly: true
    {{- if .data }}
    - name: data
      mountPath: /var/lib/dappmesh
    {{- end }}
{{- end }}

{{- define "bench.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: config
  configMap:
    name: {{ .name }}-config
{{- end }}
