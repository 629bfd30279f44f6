// The example key-value service (examples/proto/kv.proto), shared by examples/grpc_service.cpp,
// the gRPC tests and the gRPC benchmark so that all three drive the same handlers.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "kv.grpc.pb.h"

namespace kv_example {

/// An in-memory store behind vitals.example.KeyValue.
class service final : public vitals::example::KeyValue::Service {
public:
    grpc::Status Get(grpc::ServerContext* ctx, const vitals::example::GetRequest* req,
                     vitals::example::GetReply* reply) override {
        const std::string& key = req->key();
        if (key.rfind("fail:", 0) == 0) {
            const int code = std::atoi(key.c_str() + 5);
            if (code < 1 || code > 16) return {grpc::StatusCode::INVALID_ARGUMENT, "fail:N needs N in 1-16"};
            return {static_cast<grpc::StatusCode>(code), "failed on purpose"};
        }
        if (key.rfind("sleep:", 0) == 0) {
            const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::atoi(key.c_str() + 6));
            while (std::chrono::steady_clock::now() < until)
                if (ctx->IsCancelled())
                    return {grpc::StatusCode::CANCELLED, "cancelled by the client"};
                else
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
            return grpc::Status::OK;
        }
        std::shared_lock lock(mu_);
        const auto it = data_.find(key);
        if (it == data_.end()) return {grpc::StatusCode::NOT_FOUND, "no such key"};
        reply->set_value(it->second);
        return grpc::Status::OK;
    }

    grpc::Status Put(grpc::ServerContext*, const vitals::example::PutRequest* req,
                     vitals::example::PutReply* reply) override {
        if (req->key().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "empty key"};
        std::unique_lock lock(mu_);
        data_[req->key()] = req->value();
        reply->set_stored(1);
        return grpc::Status::OK;
    }

    grpc::Status Scan(grpc::ServerContext*, const vitals::example::ScanRequest* req,
                      grpc::ServerWriter<vitals::example::Entry>* writer) override {
        std::map<std::string, std::string> copy;
        {
            std::shared_lock lock(mu_);
            for (auto it = data_.lower_bound(req->prefix());
                 it != data_.end() && it->first.rfind(req->prefix(), 0) == 0; ++it)
                copy.insert(*it);
        }
        for (const auto& [k, v] : copy) {
            vitals::example::Entry e;
            e.set_key(k);
            e.set_value(v);
            if (!writer->Write(e)) return {grpc::StatusCode::CANCELLED, "the client went away"};
        }
        return grpc::Status::OK;
    }

    grpc::Status PutMany(grpc::ServerContext*, grpc::ServerReader<vitals::example::PutRequest>* reader,
                         vitals::example::PutReply* reply) override {
        vitals::example::PutRequest req;
        std::uint32_t stored = 0;
        bool bad = false;
        while (reader->Read(&req)) {
            if (req.key().empty()) {
                bad = true;
                continue;
            }
            std::unique_lock lock(mu_);
            data_[req.key()] = req.value();
            ++stored;
        }
        if (bad) return {grpc::StatusCode::INVALID_ARGUMENT, "empty key"};
        reply->set_stored(stored);
        return grpc::Status::OK;
    }

    grpc::Status Exchange(
        grpc::ServerContext*,
        grpc::ServerReaderWriter<vitals::example::GetReply, vitals::example::GetRequest>* stream) override {
        vitals::example::GetRequest req;
        while (stream->Read(&req)) {
            vitals::example::GetReply reply;
            {
                std::shared_lock lock(mu_);
                const auto it = data_.find(req.key());
                if (it != data_.end()) reply.set_value(it->second);
            }
            if (!stream->Write(reply)) return {grpc::StatusCode::CANCELLED, "the client went away"};
        }
        return grpc::Status::OK;
    }

private:
    std::shared_mutex mu_;
    std::map<std::string, std::string> data_;
};

}  // namespace kv_example
