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

{{/* Labels of the client pods (the test pod; the generated submission jobs carry the same podLabels). */}}
{{- define "htc-agent.clientLabels" -}}
{{- toYaml .Values.client.podLabels }}
helm.sh/chart: {{ include "htc-agent.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "htc-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "htc-agent.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "htc-agent.configFile" -}}
{{- printf "%s/%s" .Values.agentConfig.mountPath .Values.agentConfig.fileName }}
{{- end }}

{{/*
The fetch step (init container on the stock Node.js image): runs the fetch script from its ConfigMap with a JSON
plan (which S3 objects go where, and how to assemble the agent configuration from the ConfigMap and the Secret).
Call with (dict "root" $ "plan" <plan>).
*/}}
{{- define "htc-agent.fetchContainer" -}}
{{- $f := .root.Values.fetch -}}
{{- $v := .root.Values.agentConfig -}}
- name: fetch
  image: {{ $f.image | quote }}
  imagePullPolicy: {{ $f.pullPolicy }}
  command:
    - node
    - {{ printf "%s/%s" $f.scriptPath $f.scriptKey | quote }}
  args:
    - {{ toJson .plan | quote }}
  env:
    - name: HOME
      value: /tmp
    - name: TMPDIR
      value: /tmp
    - name: AWS_STS_REGIONAL_ENDPOINTS
      value: regional
  securityContext:
    {{- include "htc-agent.containerSecurityContext" (dict "root" .root "user" $f.runAsUser) | nindent 4 }}
  resources:
    {{- toYaml $f.resources | nindent 4 }}
  volumeMounts:
    - name: fetch-script
      mountPath: {{ $f.scriptPath }}
      readOnly: true
    - name: runtime
      mountPath: {{ $f.runtimePath }}
    - name: task-root
      mountPath: {{ .root.Values.lambda.taskRoot }}
    - name: agent-config
      mountPath: {{ $v.mountPath }}
    - name: agent-config-public
      mountPath: /config/public
      readOnly: true
    - name: agent-config-secret
      mountPath: /config/secret
      readOnly: true
    - name: fetch-tmp
      mountPath: /tmp
{{- end }}

{{/* Volumes of the fetch step and the readers of what it writes. */}}
{{- define "htc-agent.configVolumes" -}}
{{- $v := .Values.agentConfig -}}
- name: fetch-script
  configMap:
    name: {{ .Values.fetch.configMapName }}
    items:
      - key: {{ .Values.fetch.scriptKey }}
        path: {{ .Values.fetch.scriptKey }}
- name: runtime
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
- name: task-root
  emptyDir: {}
- name: fetch-tmp
  emptyDir: {}
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

{{/* The rules of a fenced pod's NetworkPolicy (agents and clients): no ingress, the egress the grid needs. */}}
{{- define "htc-agent.fencedPolicy" -}}
{{- $np := .Values.networkPolicy -}}
policyTypes:
  - Ingress
  - Egress
# No ingress rule: no ingress at all.
ingress: []
egress:
  # DNS, to whichever resolver the cluster uses (CoreDNS, or a node-local cache).
  - ports:
      - { protocol: UDP, port: 53 }
      - { protocol: TCP, port: 53 }
  # AWS APIs over HTTPS: the VPC's interface endpoints, the S3 and DynamoDB gateway endpoints (AWS's public
  # ranges) or, with a NAT gateway, AWS's public endpoints. Never the instance metadata service.
  - to:
      - ipBlock:
          cidr: 0.0.0.0/0
          except:
            - 169.254.169.254/32
    ports:
      - { protocol: TCP, port: 443 }
  # EKS Pod Identity: the credentials agent on the node's link-local address.
  - to:
      - ipBlock:
          cidr: {{ $np.podIdentityAgentCidr }}
    ports:
      - { protocol: TCP, port: {{ $np.podIdentityAgentPort }} }
  {{- if $np.redis.enabled }}
  # The grid's Redis (ElastiCache, TLS) inside the VPC.
  - to:
      - ipBlock:
          cidr: {{ $np.vpcCidr }}
    ports:
      - { protocol: TCP, port: {{ $np.redis.port }} }
  {{- end }}
{{- end }}
