<?php
// Publish to Hubbub from a PHP backend with the curl extension (Debian: apt-get install php-curl).
// Run: HUBBUB_URL=http://localhost:8080 HUBBUB_API_KEY=... HUBBUB_TOKEN_SECRET=... php publish.php

/** A refusal: getCode() is the HTTP status, $error the code from the error table (unauthorized, forbidden...). */
final class HubbubException extends RuntimeException
{
    public function __construct(int $status, public readonly string $error, public readonly bool $retryable, string $message)
    {
        parent::__construct("$error ($status): $message", $status);
    }
}

final class Hubbub
{
    public function __construct(private string $url, private string $apiKey, private string $tokenSecret) {}

    /** $options: idempotencyKey, tags */
    public function publish(string $channel, mixed $data, array $options = []): array
    {
        return $this->api('POST', '/api/publish', ['channel' => $channel, 'data' => $data] + $options);
    }

    public function broadcast(array $channels, mixed $data, array $options = []): array
    {
        return $this->api('POST', '/api/broadcast', ['channels' => $channels, 'data' => $data] + $options);
    }

    public function history(string $channel, int $limit = 100): array
    {
        return $this->api('GET', '/api/channels/' . rawurlencode($channel) . "/history?limit=$limit");
    }

    /** A connection token (HS256 JWT); with Composer, firebase/php-jwt: JWT::encode($claims, $secret, 'HS256'). */
    public function userToken(string $user, int $ttl = 900): string
    {
        $b64url = fn (string $s): string => rtrim(strtr(base64_encode($s), '+/', '-_'), '=');
        $claims = ['sub' => $user, 'iat' => time(), 'exp' => time() + $ttl, 'channels' => ["notifications:#$user"]];
        $signed = $b64url(json_encode(['alg' => 'HS256', 'typ' => 'JWT'])) . '.' . $b64url(json_encode($claims));
        return $signed . '.' . $b64url(hash_hmac('sha256', $signed, $this->tokenSecret, true));
    }

    private function api(string $method, string $path, ?array $body = null): array
    {
        $curl = curl_init(rtrim($this->url, '/') . $path);
        curl_setopt_array($curl, [
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_HTTPHEADER => ["Authorization: Bearer {$this->apiKey}", 'Content-Type: application/json'],
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_TIMEOUT => 10,
        ] + ($body === null ? [] : [CURLOPT_POSTFIELDS => json_encode($body)]));
        $response = curl_exec($curl);
        if ($response === false) throw new RuntimeException('Hubbub unreachable: ' . curl_error($curl));
        $status = curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        $json = json_decode($response, true, flags: JSON_THROW_ON_ERROR);
        if ($status >= 300) throw new HubbubException($status, $json['code'], $json['retryable'], $json['message']);
        return $json;
    }
}

$hubbub = new Hubbub(getenv('HUBBUB_URL'), getenv('HUBBUB_API_KEY'), getenv('HUBBUB_TOKEN_SECRET'));
echo json_encode(['published' => $hubbub->publish('chat:lobby', ['text' => 'hello from PHP'])]), "\n";
// A retry with the same key (a timeout, a re-run job) publishes nothing twice: same positions.
$alert = ['text' => 'deploy 42 finished'];
echo json_encode(['broadcast' => $hubbub->broadcast(['chat:lobby', 'ops:alerts'], $alert, ['idempotencyKey' => 'deploy-42'])]), "\n";
echo json_encode(['retried' => $hubbub->broadcast(['chat:lobby', 'ops:alerts'], $alert, ['idempotencyKey' => 'deploy-42'])]), "\n";
echo json_encode(['history' => $hubbub->history('chat:lobby', limit: 10)]), "\n";
echo json_encode(['token' => $hubbub->userToken('ada')]), "\n";
