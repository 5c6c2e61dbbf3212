{{/*
Names and labels shared by every object of the release.
*/}}

{{/* The release's full name, at most 63 characters (a DNS label). */}}
{{- define "meshgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meshgate.serviceAccountName" -}}
{{- default (include "meshgate.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* Labels that select the operator's pods; never change them on upgrade. */}}
{{- define "meshgate.selectorLabels" -}}
app.kubernetes.io/name: meshgate-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meshgate.labels" -}}
{{ include "meshgate.selectorLabels" . }}
app.kubernetes.io/part-of: meshgate
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "meshgate.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
