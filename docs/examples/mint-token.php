<?php
// Mint a Hubbub connection token in PHP without a library (HS256 is an HMAC over two base64url
// parts). With Composer, firebase/php-jwt does the same: JWT::encode($claims, $secret, 'HS256').
// Usage: HUBBUB_TOKEN_SECRET=... php docs/examples/mint-token.php <user>

function b64url(string $s): string { return rtrim(strtr(base64_encode($s), '+/', '-_'), '='); }

function hubbub_token(string $user, array $info, string $secret): string {
    $now = time();
    $header = b64url(json_encode(['alg' => 'HS256', 'typ' => 'JWT']));
    $claims = b64url(json_encode(['sub' => $user, 'iat' => $now, 'exp' => $now + 900, 'info' => $info,
        'channels' => ["notifications:#$user"]]));
    $signature = b64url(hash_hmac('sha256', "$header.$claims", $secret, true));
    return "$header.$claims.$signature";
}

echo hubbub_token($argv[1], ['name' => $argv[1]], getenv('HUBBUB_TOKEN_SECRET')), "\n";
