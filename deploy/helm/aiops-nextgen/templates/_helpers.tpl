{{/* Common names and labels. */}}
{{/* Object name prefix: the release name (or fullnameOverride), e.g. aiops-detect. */}}
{{- define "aiops.fullname" -}}
{{- .Values.fullnameOverride | default .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "aiops.labels" -}}
app.kubernetes.io/part-of: aiops-nextgen
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "root" $ "name" $name). */}}
{{- define "aiops.selector" -}}
app.kubernetes.io/name: aiops-{{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* A component's settings merged over .Values.defaults. */}}
{{- define "aiops.component" -}}
{{- $c := deepCopy .root.Values.defaults -}}
{{- $c = mergeOverwrite $c (deepCopy .spec) -}}
{{- toYaml $c -}}
{{- end -}}

{{- define "aiops.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Labels of a component's own objects: common labels + selector + component. */}}
{{- define "aiops.componentLabels" -}}
app.kubernetes.io/part-of: aiops-nextgen
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ .root.Chart.Name }}-{{ .root.Chart.Version }}
app.kubernetes.io/component: {{ .name }}
{{ include "aiops.selector" . }}
{{- end -}}
