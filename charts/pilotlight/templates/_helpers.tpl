{{- define "pilotlight.image" -}}
{{- if not .Values.image.tag }}{{ fail "image.tag is required: the tag printed by cli/images/build.ts" }}{{ end -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{- define "pilotlight.labels" -}}
app.kubernetes.io/name: pilotlight
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{- /* The grace period that covers a drain: quiet period, timeout and the margin to close. */ -}}
{{- define "pilotlight.drainGracePeriod" -}}
{{- add .drain.quietPeriodSeconds .drain.timeoutSeconds .margin -}}
{{- end -}}
