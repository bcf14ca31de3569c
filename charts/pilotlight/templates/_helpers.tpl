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

{{- /*
Where a component's pods run and what they pull with: its values' scheduling knobs, each left out
when empty. Called with (dict "root" $ "component" .Values.<component>), at the pod spec's indent.
*/ -}}
{{- define "pilotlight.podPlacement" -}}
{{- with concat .root.Values.imagePullSecrets .component.imagePullSecrets }}
imagePullSecrets: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .component.nodeSelector }}
nodeSelector: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.tolerations }}
tolerations: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.affinity }}
affinity: {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.topologySpreadConstraints }}
topologySpreadConstraints: {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
