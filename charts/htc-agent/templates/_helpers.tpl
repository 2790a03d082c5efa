{{/* Naming, labels and the pieces shared by the agent pod and the test pod. */}}

{{- define "htc-agent.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "htc-agent.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "htc-agent.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "htc-agent.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "htc-agent.selectorLabels" -}}
app.kubernetes.io/name: {{ include "htc-agent.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "htc-agent.labels" -}}
helm.sh/chart: {{ include "htc-agent.chart" . }}
{{ include "htc-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: htc-grid
{{- end }}

{{- define "htc-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "htc-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "<registry>/<repository>:<tag>"; call with (dict "root" $ "image" .Values.x.image "tag" "...") */}}
{{- define "htc-agent.image" -}}
{{- $repo := .image.repository }}
{{- if .root.Values.imageRegistry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .root.Values.imageRegistry) .image.repository }}
{{- end }}
{{- printf "%s:%s" $repo (toString (default .image.tag .tag)) }}
{{- end }}

{{- define "htc-agent.configFile" -}}
{{- printf "%s/%s" .Values.agentConfig.mountPath .Values.agentConfig.fileName }}
{{- end }}

{{/*
Init container writing the complete agent configuration file into the `agent-config` emptyDir:
ConfigMap JSON (non-secret fields) + one Secret key per secret field. The merge runs with python3 from
the image passed in (agent or submitter image, both ship python3).
Call with (dict "root" $ "image" <image values>).
*/}}
{{- define "htc-agent.assembleConfigContainer" -}}
{{- $v := .root.Values.agentConfig -}}
- name: assemble-config
  image: {{ include "htc-agent.image" (dict "root" .root "image" .image) | quote }}
  imagePullPolicy: {{ .image.pullPolicy }}
  command:
    - python3
    - -c
    - {{ .root.Files.Get "files/assemble-config.py" | quote }}
    - /config/public/{{ $v.fileName }}
    - /config/secret
    - {{ include "htc-agent.configFile" .root }}
    {{- range $v.secretKeys }}
    - {{ . }}
    {{- end }}
  securityContext:
    {{- include "htc-agent.containerSecurityContext" (dict "root" .root "user" .user) | nindent 4 }}
  resources:
    {{- toYaml $v.resources | nindent 4 }}
  volumeMounts:
    - name: agent-config
      mountPath: {{ $v.mountPath }}
    - name: agent-config-public
      mountPath: /config/public
      readOnly: true
    - name: agent-config-secret
      mountPath: /config/secret
      readOnly: true
{{- end }}

{{/* Volumes used by the assemble-config init container and the readers of the assembled file. */}}
{{- define "htc-agent.configVolumes" -}}
{{- $v := .Values.agentConfig -}}
- name: agent-config
  emptyDir:
    medium: Memory
    sizeLimit: 1Mi
- name: agent-config-public
  configMap:
    name: {{ $v.configMapName }}
    items:
      - key: {{ $v.configMapKey }}
        path: {{ $v.fileName }}
- name: agent-config-secret
  secret:
    secretName: {{ $v.secretName }}
    # 288 = 0440 octal, written in decimal so YAML 1.1 and 1.2 readers agree.
    defaultMode: 288
    items:
      {{- range $v.secretKeys }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- end }}

{{/*
A container's securityContext: the shared settings plus the numeric user and group its image is built for.
Call with (dict "root" $ "user" <uid>).
*/}}
{{- define "htc-agent.containerSecurityContext" -}}
{{- $ids := dict "runAsUser" (int .user) "runAsGroup" (int .user) -}}
{{- toYaml (merge $ids .root.Values.containerSecurityContext) -}}
{{- end }}
