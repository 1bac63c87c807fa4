{{/* The release's resource name prefix. */}}
{{- define "vigil.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "vigil.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vigil.labels" -}}
{{ include "vigil.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The headless Service: stable pod DNS names for gossip joins. */}}
{{- define "vigil.headless" -}}
{{ include "vigil.fullname" . }}-headless
{{- end -}}

{{/*
The gossip key's secretKeyRef (name and key), or nothing with
vigil.gossip.insecure. Fails rendering unless exactly one way is chosen:
vigil run refuses to start without a key.
*/}}
{{- define "vigil.gossipSecret" -}}
{{- $g := .Values.vigil.gossip -}}
{{- $ways := 0 -}}
{{- if $g.existingSecret }}{{ $ways = add1 $ways }}{{ end -}}
{{- if $g.encryptionKey }}{{ $ways = add1 $ways }}{{ end -}}
{{- if $g.insecure }}{{ $ways = add1 $ways }}{{ end -}}
{{- if eq $ways 0 -}}
{{- fail "vigil.gossip: no gossip encryption key, and vigil refuses to start without one. Set vigil.gossip.existingSecret to a Secret holding a base64 AES key (kubectl create secret generic vigil-gossip --from-literal=key=$(head -c32 /dev/urandom | base64)), or vigil.gossip.encryptionKey to such a key, or vigil.gossip.insecure=true to run gossip unencrypted on a trusted network" -}}
{{- else if gt $ways 1 -}}
{{- fail "vigil.gossip: set only one of existingSecret, encryptionKey and insecure" -}}
{{- end -}}
{{- if $g.existingSecret -}}
name: {{ $g.existingSecret }}
key: {{ $g.existingSecretKey }}
{{- else if $g.encryptionKey -}}
name: {{ include "vigil.fullname" . }}-gossip
key: key
{{- end -}}
{{- end -}}
