# Publish to Hubbub from a Ruby backend with the standard library only (net/http, json, openssl).
# Run: HUBBUB_URL=http://localhost:8080 HUBBUB_API_KEY=... HUBBUB_TOKEN_SECRET=... ruby publish.rb
require 'erb'
require 'json'
require 'net/http'
require 'openssl'

module Hubbub
  URL = URI(ENV.fetch('HUBBUB_URL'))
  API_KEY = ENV.fetch('HUBBUB_API_KEY')
  TOKEN_SECRET = ENV.fetch('HUBBUB_TOKEN_SECRET')

  # A refusal: `code` comes from the error table (unauthorized, forbidden, rate_limited...).
  class Error < StandardError
    attr_reader :status, :code, :retryable

    def initialize(status, error)
      @status = status
      @code = error['code']
      @retryable = error['retryable']
      super("#{@code} (#{status}): #{error['message']}")
    end
  end

  module_function

  def api(request)
    request['Authorization'] = "Bearer #{API_KEY}"
    request['Content-Type'] = 'application/json'
    response = Net::HTTP.start(URL.host, URL.port, use_ssl: URL.scheme == 'https') { |http| http.request(request) }
    body = JSON.parse(response.body)
    raise Error.new(response.code.to_i, body) unless response.is_a?(Net::HTTPSuccess)

    body
  end

  def post(path, body)
    api(Net::HTTP::Post.new(URI.join(URL, path)).tap { |r| r.body = JSON.generate(body) })
  end

  # options: idempotencyKey:, tags:
  def publish(channel, data, **options) = post('/api/publish', { channel: channel, data: data, **options })
  def broadcast(channels, data, **options) = post('/api/broadcast', { channels: channels, data: data, **options })

  def history(channel, limit: 100)
    api(Net::HTTP::Get.new(URI.join(URL, "/api/channels/#{ERB::Util.url_encode(channel)}/history?limit=#{limit}")))
  end

  # A connection token (HS256 JWT); with the jwt gem: JWT.encode(claims, TOKEN_SECRET, 'HS256').
  def user_token(user, ttl: 15 * 60)
    now = Time.now.to_i
    claims = { sub: user, iat: now, exp: now + ttl, channels: ["notifications:##{user}"] }
    signed = [{ alg: 'HS256', typ: 'JWT' }, claims].map { |part| b64url(JSON.generate(part)) }.join('.')
    "#{signed}.#{b64url(OpenSSL::HMAC.digest('SHA256', TOKEN_SECRET, signed))}"
  end

  # Base64url without padding; pack('m0') is core Ruby (the base64 library is a gem from Ruby 3.4).
  def b64url(bytes) = [bytes].pack('m0').tr('+/', '-_').delete('=')
end

puts JSON.generate(published: Hubbub.publish('chat:lobby', { text: 'hello from Ruby' }))
# A retry with the same key (a timeout, a re-run job) publishes nothing twice: same positions.
alert = { text: 'deploy 42 finished' }
puts JSON.generate(broadcast: Hubbub.broadcast(%w[chat:lobby ops:alerts], alert, idempotencyKey: 'deploy-42'))
puts JSON.generate(retried: Hubbub.broadcast(%w[chat:lobby ops:alerts], alert, idempotencyKey: 'deploy-42'))
puts JSON.generate(history: Hubbub.history('chat:lobby', limit: 10))
puts JSON.generate(token: Hubbub.user_token('ada'))
